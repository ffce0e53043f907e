package migrate

import (
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_b.sql":   {Data: []byte("B")},
		"m/0010_c.sql":   {Data: []byte("C")},
		"m/0001_a.sql":   {Data: []byte("A")},
		"m/README":       {Data: []byte("not SQL")},
		"m/sub/0003.sql": {Data: []byte("elsewhere")},
	}
	files, err := List(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, f := range files {
		got += f.Name + "=" + f.SQL + " "
	}
	if want := "m/0001_a.sql=A m/0002_b.sql=B m/0010_c.sql=C "; got != want {
		t.Fatalf("List = %q, want %q", got, want)
	}
}

func TestListRefuses(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no version":   {"m/init.sql": {}},
		"zero":         {"m/0000_init.sql": {}},
		"same version": {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		if _, err := List(fsys, "m"); err == nil {
			t.Errorf("%s: List accepted it", name)
		}
	}
}

func TestStore(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0002_more.sql":        {Data: []byte("B")},
		"migrations/0001_state.sql":       {Data: []byte("A")},
		"migrations/users/0001_users.sql": {Data: []byte("U")},
	}
	for ownUsers, want := range map[bool]string{
		true:  "migrations/0001_state.sql migrations/0002_more.sql migrations/users/0001_users.sql ",
		false: "migrations/0001_state.sql migrations/0002_more.sql ",
	} {
		files, err := Store(fsys, ownUsers)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, f := range files {
			got += f.Name + " "
		}
		if got != want {
			t.Errorf("Store(ownUsers=%v) = %q, want %q", ownUsers, got, want)
		}
	}
	if _, err := Store(fstest.MapFS{"migrations/users/init.sql": {}}, true); err == nil {
		t.Error("Store accepted a users migration without a version")
	}
}
