package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
)

func testUserRoundTrip(t *testing.T, st *subject, c store.UserCreator) {
	ctx := t.Context()
	full := store.User{
		ID:                newID("user_"),
		Email:             "marcelina.davis@example.com",
		EmailVerified:     true,
		FirstName:         "Marcelina",
		LastName:          "Davis-Żółć",
		ProfilePictureURL: "https://example.com/p/marcelina.png",
		ExternalID:        "crm-4711",
		Locale:            "pl-PL",
		Metadata:          map[string]string{"plan": "pro", "team": "漢字 & ąę", "quote": `"x" \ y`},
		LastSignInAt:      base.Add(-time.Hour + 123*ms),
		CreatedAt:         base.Add(-48*time.Hour + 7*ms),
		UpdatedAt:         base.Add(-2*time.Hour + 999*ms),
	}
	// Only the required fields: empty ones must come back empty, zero times
	// zero.
	bare := store.User{
		ID:        newID("user_"),
		Email:     "bare@example.com",
		CreatedAt: base.Add(1 * ms),
		UpdatedAt: base.Add(2 * ms),
	}
	for _, u := range []store.User{full, bare} {
		require.NoError(t, c.CreateUser(ctx, u, oldHash))

		byID, err := st.UserByID(ctx, u.ID)
		require.NoError(t, err)
		requireSame(t, u, byID)

		byEmail, err := st.UserByEmail(ctx, u.Email)
		require.NoError(t, err)
		requireSame(t, u, byEmail)
	}
}

func testUserNotFound(t *testing.T, st *subject) {
	ctx := t.Context()
	seedUser(t, st)

	_, err := st.UserByID(ctx, newID("user_"))
	require.ErrorIs(t, err, store.ErrUserNotFound)
	_, err = st.UserByEmail(ctx, "nobody@example.com")
	require.ErrorIs(t, err, store.ErrUserNotFound)
}

func testUserEmailIgnoresCase(t *testing.T, st *subject) {
	ctx := t.Context()
	id := st.addUser(t, "Ana@Example.com", oldHash)
	st.addUser(t, "ana.other@example.com", oldHash)

	for _, email := range []string{"ana@example.com", "Ana@Example.com"} {
		got, err := st.UserByEmail(ctx, email)
		require.NoError(t, err, email)
		require.Equal(t, id, got.ID, email)
	}
	_, err := st.UserByEmail(ctx, "an@example.com")
	require.ErrorIs(t, err, store.ErrUserNotFound)
}

// testUserEmailIgnoresUnicodeCase: case is folded in full Unicode, not in
// ASCII only (SQL's lower() and NOCASE fold ASCII alone in many databases).
func testUserEmailIgnoresUnicodeCase(t *testing.T, st *subject) {
	ctx := t.Context()
	id := st.addUser(t, "Ünal.ÇELIK@Bücher.Example", oldHash)
	other := st.addUser(t, "őrs@example.com", oldHash)

	got, err := st.UserByEmail(ctx, strings.ToLower("Ünal.ÇELIK@Bücher.Example"))
	require.NoError(t, err)
	require.Equal(t, id, got.ID)
	got, err = st.UserByEmail(ctx, "őrs@example.com")
	require.NoError(t, err)
	require.Equal(t, other, got.ID)
	// A different letter is a different address, even where it folds
	// alike in ASCII.
	_, err = st.UserByEmail(ctx, "ors@example.com")
	require.ErrorIs(t, err, store.ErrUserNotFound)
}

// testUserEmailUnicodeForms: one mailbox in another Unicode form (NFD
// for NFC), with its domain in punycode for Unicode, or in other case, is
// one account; and a look-alike that folds to ASCII only by compatibility
// (U+212A KELVIN SIGN for k) is not that account. The Service hands the
// Store addresses already folded (emailaddr.Fold); the Store folds what it
// stored the same way.
func testUserEmailUnicodeForms(t *testing.T, st *subject) {
	ctx := t.Context()
	id := st.addUser(t, "JOSE\u0301@BU\u0308CHER.example", oldHash) // NFD, Unicode domain
	kelvin := st.addUser(t, "\u212aate@example.com", oldHash)
	st.addUser(t, "jose@buecher.example", oldHash)

	for _, email := range []string{
		"jos\u00e9@xn--bcher-kva.example", // NFC, punycode: the Service's form
		"jos\u00e9@b\u00fccher.example",
		"JOSE\u0301@BU\u0308CHER.example",
	} {
		got, err := st.UserByEmail(ctx, emailaddr.Fold(email))
		require.NoError(t, err, "%+q", email)
		require.Equal(t, id, got.ID, "%+q", email)
	}
	_, err := st.UserByEmail(ctx, emailaddr.Fold("kate@example.com"))
	require.ErrorIs(t, err, store.ErrUserNotFound, "a Kelvin sign matched k")
	got, err := st.UserByEmail(ctx, "\u212aate@example.com")
	if err == nil {
		require.Equal(t, kelvin, got.ID, "the stored spelling itself finds its row, if any")
	}
}

func testUserEmailTakenInOtherForm(t *testing.T, st *subject, c store.UserCreator) {
	requireEmailTaken(t, st, c, "jose\u0301@b\u00fccher.example",
		"jos\u00e9@xn--bcher-kva.example", "JOS\u00c9@B\u00dcCHER.EXAMPLE", "JOSE\u0301@XN--BCHER-KVA.example")
}

func testUserEmailTaken(t *testing.T, st *subject, c store.UserCreator) {
	u := requireEmailTaken(t, st, c, "Ana@Example.com", "Ana@Example.com", "ana@example.com", "ANA@EXAMPLE.COM")
	got, err := st.UserByEmail(t.Context(), "ana@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
}

// requireEmailTaken creates a user with the address stored, then requires
// that CreateUser refuses a user with each of others, the same address
// written another way, with ErrEmailTaken, and stores nothing of it. It
// returns the user created.
func requireEmailTaken(t *testing.T, st *subject, c store.UserCreator, stored string, others ...string) store.User {
	t.Helper()
	ctx := t.Context()
	u := store.User{ID: newID("user_"), Email: stored, CreatedAt: base, UpdatedAt: base}
	require.NoError(t, c.CreateUser(ctx, u, oldHash))
	for _, email := range others {
		dup := store.User{ID: newID("user_"), Email: email, CreatedAt: base, UpdatedAt: base}
		require.ErrorIs(t, c.CreateUser(ctx, dup, "other-hash"), store.ErrEmailTaken, "%+q", email)
		_, err := st.UserByID(ctx, dup.ID)
		require.ErrorIs(t, err, store.ErrUserNotFound, "the rejected user %+q was stored", email)
	}
	return u
}

func testUserPasswordHash(t *testing.T, st *subject) {
	ctx := t.Context()
	u := seedUser(t, st)
	requireHash(t, st, u.ID, oldHash)

	nopw := st.addUser(t, "nopassword@example.com", "")
	requireHash(t, st, nopw, "", "a user without a password has the empty hash")

	_, err := st.PasswordHash(ctx, newID("user_"))
	require.ErrorIs(t, err, store.ErrUserNotFound)
}

// testUserReturnsCopies checks that neither the map given to CreateUser nor
// the one returned aliases the store's own.
func testUserReturnsCopies(t *testing.T, st *subject, c store.UserCreator) {
	ctx := t.Context()
	md := map[string]string{"plan": "pro"}
	u := store.User{ID: newID("user_"), Email: "copies@example.com", Metadata: md, CreatedAt: base, UpdatedAt: base}
	require.NoError(t, c.CreateUser(ctx, u, oldHash))
	md["plan"] = "changed after CreateUser"

	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"plan": "pro"}, got.Metadata)
	got.Metadata["plan"] = "changed after UserByID"

	again, err := st.UserByEmail(ctx, u.Email)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"plan": "pro"}, again.Metadata)

	// An empty map, like none, reads back as nil (store.User), so that a
	// host sees the same User from every Store.
	for i, md := range []map[string]string{{}, nil} {
		u := store.User{ID: newID("user_"), Email: fmt.Sprintf("empty%d@example.com", i), Metadata: md, CreatedAt: base, UpdatedAt: base}
		require.NoError(t, c.CreateUser(ctx, u, oldHash))
		got, err := st.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Nil(t, got.Metadata, "Metadata %#v read back", md)
		got, err = st.UserByEmail(ctx, u.Email)
		require.NoError(t, err)
		require.Nil(t, got.Metadata, "Metadata %#v read back", md)
	}
}

func testRecordSignIn(t *testing.T, st *subject, _ store.UserCreator) {
	rec, ok := st.Store.(store.SignInRecorder)
	if !ok {
		t.Skip("the store does not implement store.SignInRecorder")
	}
	ctx := t.Context()
	u := seedUser(t, st)
	at := base.Add(5 * ms)
	require.NoError(t, rec.RecordSignIn(ctx, u.ID, at))

	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	requireSameTime(t, at, got.LastSignInAt, "LastSignInAt")
	require.Equal(t, u.Email, got.Email)

	require.ErrorIs(t, rec.RecordSignIn(ctx, newID("user_"), at), store.ErrUserNotFound)
}

// testUpdatedAtOnRedemption: a store that keeps WorkOS's profile sets the
// user's UpdatedAt to the redemption's time, to the millisecond, and leaves
// the rest of the profile alone.
func testUpdatedAtOnRedemption(t *testing.T, st *subject, c store.UserCreator) {
	ctx := t.Context()
	u := store.User{ID: newID("user_"), Email: "profile@example.com", FirstName: "Ada", Metadata: map[string]string{"k": "v"},
		CreatedAt: base.Add(-time.Hour), UpdatedAt: base.Add(-time.Hour)}
	require.NoError(t, c.CreateUser(ctx, u, oldHash))
	r := seedReset(t, st, u, base)
	red := redemption(r, base.Add(time.Minute+7*ms))
	out, err := st.RedeemReset(ctx, red)
	require.NoError(t, err)
	want := u
	want.EmailVerified, want.UpdatedAt = true, red.Now
	requireSame(t, want, out.User)
	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	requireSame(t, want, got)
}
