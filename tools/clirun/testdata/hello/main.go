// Command hello is built by the clirun tests.
package main

import "fmt"

// greeting may be set at build time with -ldflags "-X main.greeting=…".
var greeting = "hello from clirun"

func main() { fmt.Println(greeting) }
