// Package crashtest holds the crash test of the example apps: no code, only
// a test that builds examples/webapp and examples/apiserver, runs each as a
// real process on a SQLite file, under load, against a real SMTP server in
// the test's process (github.com/emersion/go-smtp), kills it with SIGKILL
// at random moments, restarts it on the same database with no setting
// (the secret key is the one the app kept beside its database), and then
// checks, from outside, what a user and an operator would:
//
//   - no acknowledged write lost: every password a reset page accepted
//     signs in (or one accepted later whose answer the crash cut off);
//   - no token spent twice, racing pairs and replays included;
//   - every answered "forgot password" request worked off, for known and
//     unknown addresses, and every reset's email delivered;
//   - none of those emails more than 15 seconds late: within 15 s of the
//     request, or of the restart that followed the crash that held it up;
//   - no more duplicate emails (copies with one Message-ID) than crashes;
//   - the per-address limit (3 reset emails per 15 minutes) held across
//     restarts;
//   - the database intact after every crash (PRAGMA integrity_check).
//
// It takes a few minutes, so it runs only when PASSRESET_CRASH_TEST is set
// (.ci/run sets it):
//
//	PASSRESET_CRASH_TEST=1 go test -run Crash -v -timeout 20m ./examples/crashtest
//
// PASSRESET_CRASH_KILLS sets the number of kills per app (default 6) and
// PASSRESET_CRASH_SEED the random seed (the test logs the one it used).
package crashtest
