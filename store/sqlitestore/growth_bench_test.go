package sqlitestore_test

// Growth: the read hot paths at 1,000, 100,000 and 1,000,000 stored rows,
// each through the module and raw, looking up rows spread over the whole
// table so that the page cache does not hide the size.
//
// The databases are built once and kept in os.TempDir() as
// passreset-bench-schema<S>-data<D>-rows<N>.db, S the newest migration's
// version and D growthDataVersion: a later run, or a later benchmark of
// the same run, reuses them; one that is missing or incomplete (no
// bench_meta row matching its spec) is built again, in bulk, in one
// transaction with synchronous=OFF, into a temporary file renamed into
// place when done. The million-row file takes about 730 MB and under a
// minute to build; delete the files to reclaim the space. Only benchmarks
// build them: `go test` without -bench never does. Each side of a pair
// reads its file through first (warm), so that pages the OS dropped since
// the last run do not count as the cost of a lookup.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// growthDataVersion names the layout of the growth databases' rows (see
// seedSpec); change it when that changes.
const growthDataVersion = 1

var growthRows = []int{1_000, 100_000, 1_000_000}

// growthNow is the clock of the growth benchmarks, pinned so that the
// rows of a file built on one day are as fresh on the next: sessions last
// seen at growthNow are active and need no write of last_seen_at.
var growthNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// growthSpec: rows resets and rows sessions, ten of each per user.
func growthSpec(rows int) seedSpec {
	return seedSpec{users: max(rows/10, 1), resets: rows, sessions: rows, now: growthNow}
}

var growthDBs struct {
	sync.Mutex
	paths map[int]string
}

// growthDB returns the path of the database of rows rows, building it if
// need be.
func growthDB(b *testing.B, rows int) string {
	b.Helper()
	growthDBs.Lock()
	defer growthDBs.Unlock()
	if p, ok := growthDBs.paths[rows]; ok {
		return p
	}
	spec := growthSpec(rows)
	path := filepath.Join(os.TempDir(), fmt.Sprintf("passreset-bench-schema%d-data%d-rows%d.db",
		sqlitestore.BenchSchemaVersion(), growthDataVersion, rows))
	if !seededAs(path, spec) {
		start := time.Now()
		tmp := path + ".building." + strconv.Itoa(os.Getpid())
		removeDB(b, tmp)
		seed(b, tmp, spec)
		removeDB(b, path) // and its -wal and -shm, which must not meet the new file
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s in %v; later runs reuse it", path, time.Since(start).Round(time.Second))
	}
	if growthDBs.paths == nil {
		growthDBs.paths = map[int]string{}
	}
	growthDBs.paths[rows] = path
	return path
}

// removeDB removes the database at path with its WAL and shared-memory
// files, if they exist.
func removeDB(tb testing.TB, path string) {
	tb.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			tb.Fatal(err)
		}
	}
}

// growthSample is how many rows a growth benchmark cycles through: picked
// at random over the whole table, many more than SQLite's page cache
// holds the pages of.
const growthSample = 1 << 16

// sample returns growthSample row numbers below rows, the same for both
// sides of a pair.
func sample(rows int) []int {
	r := rand.New(rand.NewPCG(uint64(rows), 1))
	idx := make([]int, growthSample)
	for i := range idx {
		idx[i] = r.IntN(rows)
	}
	return idx
}

func pinnedNow() time.Time { return growthNow.Add(time.Second) }

// openGrowthRaw opens the raw side on path, its clock pinned as the
// passreset side's.
func openGrowthRaw(b *testing.B, path string) *rawDB {
	db := openRaw(b, path)
	db.now = func() int64 { return pinnedNow().UnixMilli() }
	return db
}

// growth runs a pair for each size in growthRows.
func growth(b *testing.B, pair func(b *testing.B, path string, rows int)) {
	for _, rows := range growthRows {
		b.Run("rows="+strconv.Itoa(rows), func(b *testing.B) {
			pair(b, growthDB(b, rows), rows)
		})
	}
}

// warm reads the file at path through, so that a benchmark measures
// lookups in a database the OS keeps in memory, as it does one in use,
// rather than reads from the disk of pages it dropped since the last run.
func warm(b *testing.B, path string) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetPasswordResetGrowth(b *testing.B) {
	ctx := context.Background()
	growth(b, func(b *testing.B, path string, rows int) {
		ids := make([]string, growthSample)
		for i, r := range sample(rows) {
			ids[i] = benchResetID(r)
		}
		b.Run("passreset", func(b *testing.B) {
			warm(b, path)
			svc := newBenchService(b, openBenchStore(b, path), nil, nil)
			loop(b, func(i int) error {
				_, err := svc.GetPasswordReset(ctx, ids[i%len(ids)])
				return err
			})
		})
		b.Run("raw", func(b *testing.B) {
			warm(b, path)
			db := openGrowthRaw(b, path)
			loop(b, func(i int) error {
				_, err := db.get(ctx, ids[i%len(ids)])
				return err
			})
		})
	})
}

func BenchmarkRejectInvalidTokenGrowth(b *testing.B) {
	ctx := context.Background()
	unknown := tokens(unknownToken, growthSample)
	growth(b, func(b *testing.B, path string, rows int) {
		b.Run("passreset", func(b *testing.B) {
			warm(b, path)
			svc := newBenchService(b, openBenchStore(b, path), nil, nil)
			loop(b, func(i int) error {
				_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: unknown[i%len(unknown)], NewPassword: benchPassword})
				if !errors.Is(err, reset.ErrInvalidToken) {
					return errors.Join(errors.New("want ErrInvalidToken"), err)
				}
				return nil
			})
		})
		b.Run("raw", func(b *testing.B) {
			warm(b, path)
			db := openGrowthRaw(b, path)
			loop(b, func(i int) error {
				if _, err := db.lookup(ctx, unknown[i%len(unknown)]); err != errRawInvalid {
					return errors.Join(errors.New("want errRawInvalid"), err)
				}
				return nil
			})
		})
	})
}

func BenchmarkValidateSessionGrowth(b *testing.B) {
	ctx := context.Background()
	growth(b, func(b *testing.B, path string, rows int) {
		toks := make([]string, growthSample)
		for i, r := range sample(rows) {
			toks[i] = benchToken(sessionToken, r)
		}
		b.Run("passreset", func(b *testing.B) {
			warm(b, path)
			m := newBenchManager(b, openBenchStore(b, path), pinnedNow)
			loop(b, func(i int) error {
				_, err := m.Validate(ctx, toks[i%len(toks)])
				return err
			})
		})
		b.Run("raw", func(b *testing.B) {
			warm(b, path)
			db := openGrowthRaw(b, path)
			loop(b, func(i int) error {
				_, err := db.validate(ctx, toks[i%len(toks)])
				return err
			})
		})
	})
}
