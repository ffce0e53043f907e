package metadata

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, md := range []map[string]string{nil, {}, {"plan": "pro"}, {"a": "1", "b": "ünïcode \"quoted\""}} {
		s, err := Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		want := md
		if len(md) == 0 {
			want = nil // an empty map reads back as nil
			if s != "{}" {
				t.Errorf("Marshal(%v) = %q, want {}", md, s)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %v: %v", md, got)
		}
	}
	if _, err := Unmarshal([]byte(`{"a": 1}`)); err == nil {
		t.Error("Unmarshal accepted a number for a value")
	}
}
