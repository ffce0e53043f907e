// Package metadata is how the SQL stores keep store.User.Metadata in a
// text or JSON column: a JSON object, "{}" when empty.
package metadata

import "encoding/json"

// Marshal returns the column's value for md: "{}" for an empty or nil map.
func Marshal(md map[string]string) (string, error) {
	if len(md) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	return string(b), err
}

// Unmarshal reads the column's value back: an empty object (or an empty
// value, or NULL read as "") as a nil map, as store.User's contract says,
// without a call to the JSON decoder.
func Unmarshal[T string | []byte](b T) (map[string]string, error) {
	if len(b) <= len("{}") {
		return nil, nil
	}
	var md map[string]string
	if err := json.Unmarshal([]byte(b), &md); err != nil {
		return nil, err
	}
	return md, nil
}
