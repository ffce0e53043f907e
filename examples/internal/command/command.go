// Package command is the main function the example programs share and that
// none of them is there to show: a context that ends when the program is
// told to stop, and a failure reported the way a command line tool reports
// it.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs run with a context that is done on an interrupt or a SIGTERM,
// so that run's deferred clean-up (a server's graceful shutdown, a
// temporary directory) happens on Ctrl-C too, and exits the program with
// the status Exit gives run's error.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if code := Exit(os.Stderr, name, err); code != 0 {
		os.Exit(code)
	}
}

// Exit reports err to stderr, prefixed with the program's name, and
// returns the program's exit status: 0 for a nil err, 2 for flag.ErrHelp
// (the flag package has already printed the usage, so nothing more is
// said), and 1 for any other failure.
func Exit(stderr io.Writer, name string, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
}
