// Command benchratio reads `go test -bench` output on stdin and prints, for
// every benchmark with a "stich" and a "reference" sub-benchmark measured in
// the same run, the ratio stich/reference of ns/op against its target. It
// exits 1 if a ratio misses its target, so `make bench` fails loudly.
//
// Naming: BenchmarkX/<params>/stich and BenchmarkX/<params>/reference.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// targets are the maximum ratios, by benchmark prefix.
var targets = map[string]float64{
	"BenchmarkGrainCall":       1.5,
	"BenchmarkEventAppend":     1.2,
	"BenchmarkWatchFanOut":     1.2,
	"BenchmarkGrainActivation": 1.5,
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

func main() {
	ns := map[string]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			ns[m[1]] = v
		}
	}
	var names []string
	for n := range ns {
		if strings.HasSuffix(n, "/stich") {
			names = append(names, strings.TrimSuffix(n, "/stich"))
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Println("benchratio: no stich/reference pairs found")
		os.Exit(1)
	}
	failed := false
	fmt.Printf("%-52s %12s %12s %7s %7s\n", "benchmark", "stich ns/op", "ref ns/op", "ratio", "target")
	for _, n := range names {
		ref, ok := ns[n+"/reference"]
		if !ok {
			continue
		}
		ratio := ns[n+"/stich"] / ref
		target := 0.0
		for p, t := range targets {
			if strings.HasPrefix(n, p) {
				target = t
			}
		}
		verdict := ""
		if target > 0 && ratio > target {
			verdict, failed = "  MISSED", true
		}
		fmt.Printf("%-52s %12.0f %12.0f %7.2f %7.2f%s\n", n, ns[n+"/stich"], ref, ratio, target, verdict)
	}
	if failed {
		os.Exit(1)
	}
}
