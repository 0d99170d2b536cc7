// A Go program for test_gopclntab: a few functions the compiler may not
// inline, so that each has an entry of its own in .gopclntab and in the
// symbol table of the unstripped build. It is never run.
package main

import (
	"fmt"
	"os"
)

//go:noinline
func yourFunc(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

type counter struct{ n int }

//go:noinline
func (c *counter) bump(by int) int {
	c.n += yourFunc(by)
	return c.n
}

//go:noinline
func closureMaker(k int) func() int {
	return func() int { return k + 1 }
}

func main() {
	c := &counter{}
	f := closureMaker(len(os.Args))
	fmt.Println(c.bump(len(os.Args)), f())
}
