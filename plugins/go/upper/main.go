// upper-go: the `upper` command plugin (plugins/upper) in Go, built with
// GOOS=wasip1 as a plain WASI command: the payload arrives on stdin, the
// output leaves on stdout, stderr is the log, and the exit code decides (0
// success, 75 retryable, anything else permanent). It upper-cases its input
// (ASCII); a payload containing `retry` exits 75 and one containing `fail`
// exits 1, as `upper` does. Go has no component (wasip2) target among the registry
// toolchains here, so it cannot use the capabilities; see
// docs/plugins-in-any-language.md.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// exitRetryable asks the host to retry the task (EX_TEMPFAIL).
const exitRetryable = 75

func main() {
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upper-go: reading the payload failed: %v\n", err)
		os.Exit(exitRetryable)
	}
	if bytes.Contains(payload, []byte("retry")) {
		fmt.Fprintln(os.Stderr, "upper-go: payload asks for a retry")
		os.Exit(exitRetryable)
	}
	if bytes.Contains(payload, []byte("fail")) {
		fmt.Fprintln(os.Stderr, "upper-go: payload asks for a permanent failure")
		os.Exit(1)
	}
	for i, b := range payload {
		if 'a' <= b && b <= 'z' {
			payload[i] = b - 'a' + 'A'
		}
	}
	if _, err := os.Stdout.Write(payload); err != nil {
		fmt.Fprintf(os.Stderr, "upper-go: writing the output failed: %v\n", err)
		os.Exit(exitRetryable)
	}
}
