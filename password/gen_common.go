//go:build ignore

// gen_common writes common.txt, the list IsCommon searches: every word of
// the frequency lists of github.com/trustelem/zxcvbn (the Go port of
// Dropbox's zxcvbn: 30,000 passwords, 30,000 English Wikipedia words,
// 19,160 words of US television and film, 10,000 surnames, 4,695 first
// names) and every password of @zxcvbn-ts/language-common (49,233
// passwords), lower-cased, unique, sorted bytewise, one a line. Both are
// MIT-licensed; see common-LICENSES.txt.
//
//	go run gen_common.go path/to/zxcvbn-ts/language-common/src/passwords.json
package main

import (
	"encoding/json"
	"log"
	"os"
	"slices"
	"strings"

	"github.com/trustelem/zxcvbn/frequency"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run gen_common.go passwords.json")
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	var words []string
	if err := json.Unmarshal(b, &words); err != nil {
		log.Fatal(err)
	}
	for _, list := range frequency.FrequencyLists {
		words = append(words, list...)
	}
	for i, w := range words {
		words[i] = strings.ToLower(w)
	}
	slices.Sort(words)
	words = slices.Compact(words)
	if words[0] == "" {
		words = words[1:]
	}
	if err := os.WriteFile("common.txt", []byte(strings.Join(words, "\n")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("common.txt: %d words", len(words))
}
