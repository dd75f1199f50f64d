// Package bench holds stich's cross-package benchmarks. Each benchmark has
// a "stich" and a "reference" sub-benchmark measured in the same run;
// `make bench` prints their ratios (internal/benchratio) against targets.
//
// Package bench is imported by nothing.
package bench
