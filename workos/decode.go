package workos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
)

// decodeJSON decodes a request body into v, a pointer to a struct whose
// fields name the parameters. Unknown fields are ignored and an empty body
// counts as {} (the route then finds its required parameters missing). It
// answers 400 for a body that is not JSON, and 422 for a value of the wrong
// type or a body that is not an object.
//
// encoding/json matches keys without regard to case and lets the last of
// two equal keys win, so {"email":"a@x","Email":"b@x"} would act on b while
// a proxy or a log that reads the first sees a. A body with a key twice
// (the top level's compared without regard to case, as the decoder does),
// or with a key that matches a parameter only without regard to case, is
// answered 422 instead.
func decodeJSON(body []byte, v any) *reply {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if r := checkKeys(body, jsonFields(v)); r != nil {
		return r
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(v)
	if err == nil {
		// One JSON value, then nothing but space.
		if _, err := dec.Token(); err != io.EOF {
			return malformed()
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return invalidParams("The request body must be a JSON object.")
		}
		return invalidParams(fmt.Sprintf("%s must be %s, not %s.", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value))
	}
	return malformed()
}

// jsonFields returns the JSON names of the fields of the struct v points
// to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// checkKeys refuses a body whose objects repeat a key, or whose top level
// names a parameter in another case than fields. A body that is not valid
// JSON is left to the decoder to refuse.
func checkKeys(body []byte, fields []string) *reply {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		folded := strings.ToLower(key)
		if first, dup := seen[folded]; dup {
			return invalidParams(fmt.Sprintf("The parameter %q appears more than once (as %q and %q).", key, first, key))
		}
		seen[folded] = key
		for _, f := range fields {
			if f != key && strings.EqualFold(f, key) {
				return invalidParams(fmt.Sprintf("%q is not a parameter; parameter names are case-sensitive (did you mean %q?).", key, f))
			}
		}
		if r := skipValue(dec); r != nil {
			return r
		}
	}
	return nil
}

// skipValue reads one value from dec, refusing an object in it that
// repeats a key (compared exactly).
func skipValue(dec *json.Decoder) *reply {
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil
			}
			key, _ := k.(string)
			if seen[key] {
				return invalidParams(fmt.Sprintf("The key %q appears more than once in an object.", key))
			}
			seen[key] = true
			if r := skipValue(dec); r != nil {
				return r
			}
		}
		_, _ = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			if r := skipValue(dec); r != nil {
				return r
			}
		}
		_, _ = dec.Token() // ']'
	}
	return nil
}

func malformed() *reply {
	return errorReply(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON.")
}

// jsonKind names a Go kind as the JSON type a client must send.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}

// formValues parses an application/x-www-form-urlencoded body; a malformed
// one yields what could be parsed.
func formValues(body []byte) url.Values {
	v, _ := url.ParseQuery(string(body))
	return v
}

// hasNUL reports whether any of ss holds a NUL byte, which no parameter
// may carry (some databases cut text there).
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}
