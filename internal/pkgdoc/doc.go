// Package pkgdoc holds a test that every stich package has a doc comment
// saying what it owns. It has no code and is imported by nothing.
package pkgdoc
