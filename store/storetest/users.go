package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
)

func testUserRoundTrip(t *testing.T, st Store) {
	ctx := t.Context()
	full := reset.User{
		ID:                newID("user_"),
		Email:             "marcelina.davis@example.com",
		EmailVerified:     true,
		FirstName:         "Marcelina",
		LastName:          "Davis-Żółć",
		ProfilePictureURL: "https://example.com/p/marcelina.png",
		ExternalID:        "crm-4711",
		Locale:            "pl-PL",
		Metadata:          map[string]string{"plan": "pro", "team": "漢字 & ąę"},
		LastSignInAt:      base.Add(-time.Hour + 123*ms),
		CreatedAt:         base.Add(-48*time.Hour + 7*ms),
		UpdatedAt:         base.Add(-2*time.Hour + 999*ms),
	}
	// Only the required fields: empty ones must come back empty, zero times
	// zero.
	bare := reset.User{
		ID:        newID("user_"),
		Email:     "bare@example.com",
		CreatedAt: base.Add(1 * ms),
		UpdatedAt: base.Add(2 * ms),
	}
	for _, u := range []reset.User{full, bare} {
		require.NoError(t, st.CreateUser(ctx, u, oldHash))

		byID, err := st.UserByID(ctx, u.ID)
		require.NoError(t, err)
		requireSameUser(t, u, byID)

		byEmail, err := st.UserByEmail(ctx, u.Email)
		require.NoError(t, err)
		requireSameUser(t, u, byEmail)
	}
}

func testUserNotFound(t *testing.T, st Store) {
	ctx := t.Context()
	seedUser(t, st)

	_, err := st.UserByID(ctx, newID("user_"))
	require.ErrorIs(t, err, reset.ErrUserNotFound)
	_, err = st.UserByEmail(ctx, "nobody@example.com")
	require.ErrorIs(t, err, reset.ErrUserNotFound)
}

func testUserEmailIgnoresCase(t *testing.T, st Store) {
	ctx := t.Context()
	u := reset.User{ID: newID("user_"), Email: "Ana@Example.com", CreatedAt: base, UpdatedAt: base}
	require.NoError(t, st.CreateUser(ctx, u, oldHash))

	got, err := st.UserByEmail(ctx, "ana@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
}

func testUserEmailTaken(t *testing.T, st Store) {
	ctx := t.Context()
	u := reset.User{ID: newID("user_"), Email: "Ana@Example.com", CreatedAt: base, UpdatedAt: base}
	require.NoError(t, st.CreateUser(ctx, u, oldHash))

	for _, email := range []string{"Ana@Example.com", "ana@example.com", "ANA@EXAMPLE.COM"} {
		dup := reset.User{ID: newID("user_"), Email: email, CreatedAt: base, UpdatedAt: base}
		err := st.CreateUser(ctx, dup, "other-hash")
		require.ErrorIs(t, err, reset.ErrEmailTaken, email)

		_, err = st.UserByID(ctx, dup.ID)
		require.ErrorIs(t, err, reset.ErrUserNotFound, "the rejected user was stored")
	}
	got, err := st.UserByEmail(ctx, "ana@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
}

func testUserPasswordHash(t *testing.T, st Store) {
	ctx := t.Context()
	u := seedUser(t, st)
	h, err := st.PasswordHash(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, oldHash, h)

	nopw := reset.User{ID: newID("user_"), Email: "nopassword@example.com", CreatedAt: base, UpdatedAt: base}
	require.NoError(t, st.CreateUser(ctx, nopw, ""))
	h, err = st.PasswordHash(ctx, nopw.ID)
	require.NoError(t, err)
	require.Empty(t, h)

	_, err = st.PasswordHash(ctx, newID("user_"))
	require.ErrorIs(t, err, reset.ErrUserNotFound)
}

// testUserReturnsCopies checks that neither the map given to CreateUser nor
// the one returned aliases the store's own.
func testUserReturnsCopies(t *testing.T, st Store) {
	ctx := t.Context()
	md := map[string]string{"plan": "pro"}
	u := reset.User{ID: newID("user_"), Email: "copies@example.com", Metadata: md, CreatedAt: base, UpdatedAt: base}
	require.NoError(t, st.CreateUser(ctx, u, oldHash))
	md["plan"] = "changed after CreateUser"

	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"plan": "pro"}, got.Metadata)
	got.Metadata["plan"] = "changed after UserByID"

	again, err := st.UserByEmail(ctx, u.Email)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"plan": "pro"}, again.Metadata)
}

func testRecordSignIn(t *testing.T, st Store) {
	rec, ok := st.(store.SignInRecorder)
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

	require.ErrorIs(t, rec.RecordSignIn(ctx, newID("user_"), at), reset.ErrUserNotFound)
}
