// Command hello is built by the clirun tests.
package main

import "fmt"

func main() { fmt.Println("hello from clirun") }
