package mysqlstore

// SetsLevelPerTx reports whether st begins each transaction with SET
// TRANSACTION ISOLATION LEVEL READ COMMITTED (a pool not made by OpenDB).
func SetsLevelPerTx(st *Store) bool { return st.txOpts != nil }
