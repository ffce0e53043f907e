package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// Open a database file, create the schema, and use the Store; in an app the
// Store goes into reset.Config.Store and the session Manager.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "passreset-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "passreset.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil { // Open never changes the schema
		log.Fatal(err)
	}

	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	err = st.CreateUser(ctx, reset.User{
		ID:        "user_01E4ZCR3C56J083X43JQXF3JK5",
		Email:     "Marcelina.Davis@example.com",
		FirstName: "Marcelina",
		CreatedAt: now,
		UpdatedAt: now,
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	u, err := st.UserByEmail(ctx, "marcelina.davis@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.ID, u.Email, u.CreatedAt.Format(time.RFC3339))
	// Output: user_01E4ZCR3C56J083X43JQXF3JK5 Marcelina.Davis@example.com 2026-01-15T12:00:00Z
}

// A Store over a handle the app opened itself, with the settings DSN puts
// in the data source name. Close leaves the handle open.
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "passreset-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sql.Open("sqlite3", sqlitestore.DSN(filepath.Join(dir, "passreset.db"), sqlitestore.WithSynchronousNormal()))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	st, err := sqlitestore.New(db)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = st.UserByID(ctx, "user_unknown")
	fmt.Println(err)
	// Output: reset: user not found
}
