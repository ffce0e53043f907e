package emailaddr_test

import (
	"errors"
	"fmt"

	"github.com/passreset/passreset/emailaddr"
)

func ExampleNormalize() {
	for _, in := range []string{
		" Ada@B\u00fccher.Example ", // trimmed, the domain in ASCII
		"jose\u0301@example.com",    // NFD: the é of NFC
		"\u212Aate@example.com",     // KELVIN SIGN, not k
		"ad\u200da@example.com",     // a zero-width joiner
		"ada@[192.0.2.1]",           // a domain literal
	} {
		n, err := emailaddr.Normalize(in)
		if err != nil {
			fmt.Println("refused:", errors.Is(err, emailaddr.ErrInvalid), err)
			continue
		}
		fmt.Printf("%q\n", n)
	}
	// Output:
	// "Ada@xn--bcher-kva.example"
	// "josé@example.com"
	// refused: true emailaddr: invalid address: character that passes for another
	// refused: true emailaddr: invalid address: invisible or bidirectional character
	// refused: true emailaddr: invalid address: domain literal
}

func ExampleFold() {
	a := emailaddr.Fold("JOSE\u0301@B\u00dcCHER.example")
	b := emailaddr.Fold("jos\u00e9@xn--bcher-kva.EXAMPLE")
	fmt.Println(a == b, a)
	// Output: true josé@xn--bcher-kva.example
}

func ExampleFoldValid() {
	key, err := emailaddr.FoldValid(" JOSE\u0301@B\u00dcCHER.example")
	fmt.Println(key, err)
	_, err = emailaddr.FoldValid("\u212Aate@example.com")
	fmt.Println(err)
	// Output:
	// josé@xn--bcher-kva.example <nil>
	// emailaddr: invalid address: character that passes for another
}

func ExampleEqualFold() {
	fmt.Println(emailaddr.EqualFold("Ada@B\u00fccher.example", "ada@xn--bcher-kva.EXAMPLE"))
	fmt.Println(emailaddr.EqualFold("\u212Aate@example.com", "kate@example.com"))
	// Output:
	// true
	// false
}
