package workos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// decodeJSON decodes a request body into v, a pointer to a struct whose
// fields name the parameters. Unknown fields are ignored and an empty body
// counts as {} (the route then finds its required parameters missing). It
// answers 400 for a body that is not JSON, and 422 for a value of the wrong
// type or a body that is not an object.
func decodeJSON(body []byte, v any) *reply {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
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
