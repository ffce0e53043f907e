// Package sqlrows reads a database/sql result whole, as pgx.CollectRows
// does for pgx: the loop that every database/sql store writes for a list.
package sqlrows

import "database/sql"

// Scanner is a row to scan: a *sql.Row or a *sql.Rows positioned on one.
type Scanner = interface{ Scan(dest ...any) error }

// Collect scans every row of rows with scan, in order, and closes rows. It
// returns the first error of a scan or of the iteration.
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
