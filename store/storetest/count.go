package storetest

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
)

// testCountRequests: CountRequests counts what AllowRequest counts, the
// window and the requests recorded after now alike, and records nothing.
func testCountRequests(t *testing.T, st *subject) {
	ctx := t.Context()
	key, other, window := "k_"+ulid.Make().String(), "k_"+ulid.Make().String(), time.Hour
	count := func(k string, now time.Time) (int, time.Time) {
		t.Helper()
		n, oldest, err := st.CountRequests(ctx, k, now, window)
		require.NoError(t, err)
		return n, oldest
	}

	n, oldest := count(key, base)
	require.Zero(t, n, "a key with no record")
	require.True(t, oldest.IsZero(), "oldest of a key with no record: %v", oldest)

	for i := range 3 {
		ok, _, err := st.AllowRequest(ctx, key, base.Add(time.Duration(i)*time.Second), window, 3)
		require.NoError(t, err)
		require.True(t, ok)
	}
	for range 5 { // counting records nothing
		n, oldest = count(key, base.Add(2*time.Second))
		require.Equal(t, 3, n)
		requireSameTime(t, base, oldest, "oldest")
	}
	ok, _, err := st.AllowRequest(ctx, key, base.Add(3*time.Second), window, 4)
	require.NoError(t, err)
	require.True(t, ok, "CountRequests recorded something: a fourth request was refused at a limit of four")

	n, _ = count(key, base.Add(-30*time.Second)) // within store.MaxClockSkew of every record
	require.Equal(t, 4, n, "requests recorded after now count, as AllowRequest counts them")

	n, oldest = count(key, base.Add(window)) // the window is (now-window, now]: base has left it
	require.Equal(t, 3, n)
	requireSameTime(t, base.Add(time.Second), oldest, "oldest once the window slid")

	n, _ = count(other, base.Add(2*time.Second))
	require.Zero(t, n, "another key's records counted")
}
