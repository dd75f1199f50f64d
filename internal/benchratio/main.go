// Command benchratio reads `go test -bench` output on stdin and prints, for
// every benchmark with a "stich" and a "reference" sub-benchmark measured in
// the same run, the ratio stich/reference of ns/op against its target. It
// exits 1 if a ratio misses its target, so `make bench` fails loudly.
//
// Naming: BenchmarkX/<params>/stich and BenchmarkX/<params>/reference.
//
// With -count N the median of the N runs is used.
//
// It also prints every custom metric (MB/s, calls/s, detect-ms, ...) and
// checks the absolute targets: failover-ms ≤ detect-ms + 500 for
// BenchmarkFailover, the LAN profile's slowest detection ≤ 2,000 ms for
// BenchmarkDetection, stich − reference ≤ 2 ms for BenchmarkFirstToken, and
// a p50 of a durable write with R=3 ≤ 2x a synced Pebble commit for
// BenchmarkDurableWrite (one writer), mtls-x ≤ 1.15 for
// BenchmarkMTLSCrossNodeCall, origin-x and handler-x ≤ 1.1 for
// BenchmarkOriginRouting(Handler), and contained-x ≤ 1.1 for
// BenchmarkContainedBuild, auth-x ≤ 1.1 for BenchmarkGetSessionAuth (these interleave their two variants in one
// benchmark and report the ratio of the medians); throughput-x >= 0.5 for
// BenchmarkSnapshotTransfer and floor-x <= 1.3 for
// BenchmarkDurableWriteFloor (interleaved too); and BenchmarkSessionScale's
// memory per passivated (0) and active idle (<= 2 KB) session and act-x
// (<= 1.2); BenchmarkFirstRender's p50 from Build to the app rendered in
// a warm browser (<= 3,000 ms).
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
	"BenchmarkCrossNodeCall":   1.1,
	"BenchmarkGrainCall":       1.5,
	"BenchmarkEventAppend":     1.2,
	"BenchmarkWatchFanOut":     1.2,
	"BenchmarkGrainActivation": 1.5,
	"BenchmarkPreview":         0.1,
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

var metric = regexp.MustCompile(`([\d.]+) (\S+)`)

// absoluteTargets are checks on one run's figures that are not ratios.
var absoluteTargets = []struct {
	name  string
	check func(ns map[string]float64, metrics map[string]map[string]float64) (string, bool)
}{
	{"failover within detection + 500 ms", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		out, ok := "", true
		for name, mm := range m {
			if !strings.HasPrefix(name, "BenchmarkFailover/") {
				continue
			}
			gap := mm["failover-ms"] - mm["detect-ms"]
			out += fmt.Sprintf("%s: detection %.0f ms, failover %.0f ms (+%.0f ms); ", name, mm["detect-ms"], mm["failover-ms"], gap)
			ok = ok && gap <= 500
		}
		return out, ok
	}},
	{"LAN profile detects a killed member within 2,000 ms (slowest run)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkDetection"]
		if mm == nil {
			return "", true
		}
		return fmt.Sprintf("lan: mean %.0f ms, slowest %.0f ms; memberlist's LAN defaults: mean %.0f ms, slowest %.0f ms",
			mm["lan-detect-ms"], mm["lan-max-ms"], mm["memberlist-lan-detect-ms"], mm["memberlist-lan-max-ms"]), mm["lan-max-ms"] <= 2000
	}},
	{"mTLS cross-node call <= 1.15x plaintext (interleaved)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		out, ok := "", true
		for _, c := range []string{"1", "64"} {
			mm := m["BenchmarkMTLSCrossNodeCall/callers="+c]
			if mm == nil {
				continue
			}
			out += fmt.Sprintf("%s callers: mTLS %.0f ns, plaintext %.0f ns (%.3fx); ", c, mm["mtls-ns"], mm["plain-ns"], mm["mtls-x"])
			ok = ok && mm["mtls-x"] <= 1.15
		}
		return out, ok
	}},
	{"preview by origin + headers <= 1.1x path routing (interleaved, medians)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		out, ok := "", true
		for _, c := range []struct{ name, x string }{{"BenchmarkOriginRouting", "origin-x"}, {"BenchmarkOriginRoutingHandler", "handler-x"}} {
			mm := m[c.name]
			if mm == nil {
				continue
			}
			out += fmt.Sprintf("%s: %.0f ns vs %.0f ns (%.3fx); ", c.name, mm["stich-p50-ns"], mm["ref-p50-ns"], mm[c.x])
			ok = ok && mm[c.x] <= 1.1
		}
		return out, ok
	}},
	{"contained build <= 1.1x the old sandbox (interleaved, medians)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkContainedBuild"]
		if mm == nil {
			return "", true
		}
		return fmt.Sprintf("contained %.0f ms vs old %.0f ms over %.0f pairs (%.3fx)", mm["stich-p50-ms"], mm["ref-p50-ms"], mm["pairs"], mm["contained-x"]), mm["contained-x"] <= 1.1
	}},
	{"GetSession with authentication and the ownership check <= 1.1x the same call unauthenticated (interleaved, medians)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkGetSessionAuth"]
		if mm == nil {
			return "", true
		}
		return fmt.Sprintf("p50 %.0f us with the owner's key, %.0f us unauthenticated through the same edge (%.3fx); %.0f us with no edge at all (whole edge %.3fx)",
			mm["stich-p50-us"], mm["unauth-p50-us"], mm["auth-x"], mm["bare-p50-us"], mm["edge-x"]), mm["auth-x"] <= 1.1
	}},
	{"first file chunk overhead <= 2 ms (p50)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		s, r := m["BenchmarkPlatformFirstToken/stich"]["p50-ms"], m["BenchmarkPlatformFirstToken/reference"]["p50-ms"]
		if s == 0 || r == 0 {
			return "", true
		}
		return fmt.Sprintf("stich p50 %.2f ms, direct go-openai p50 %.2f ms, overhead %+.2f ms", s, r, s-r), s-r <= 2
	}},
	{"20 MiB snapshot transfer >= 0.5x a raw loopback TCP copy (interleaved)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkSnapshotTransfer/interleaved"]
		if mm == nil {
			return "", true
		}
		return fmt.Sprintf("stich %.0f MB/s, raw TCP into new memory %.0f MB/s (%.2fx); raw TCP into one reused buffer %.0f MB/s (%.2fx, no target); installed (committed, synced) %.0f MB/s",
			mm["stich-MB/s"], mm["reference-MB/s"], mm["throughput-x"], mm["reused-MB/s"], mm["reused-x"], m["BenchmarkSnapshotTransfer/installed"]["MB/s"]), mm["throughput-x"] >= 0.5
	}},
	{"100,000 sessions on one node: none kept passivated, <= 2 KB active idle, activation <= 1.2x of 100 sessions", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkSessionScale"]
		if mm == nil {
			return "", true
		}
		return fmt.Sprintf("per passivated session %.0f B live (%.0f B in use), per active idle %.0f B live (%.0f B in use), activation p50 %.0f us vs %.0f us with 100 (%.2fx)",
				mm["passivated-B/session"], mm["passivated-inuse-B/session"], mm["active-B/session"], mm["active-inuse-B/session"], mm["act-p50-us"], mm["act100-p50-us"], mm["act-x"]),
			mm["passivated-B/session"] <= 0 && mm["active-B/session"] <= 2048 && mm["act-x"] <= 1.2
	}},
	{"R=3 durable write p50 <= 1.3x the one-disk floor (interleaved)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkDurableWriteFloor"]
		if mm == nil {
			return "", true
		}
		return fmt.Sprintf("p50 %.0f us, floor (2 of 3 stores synced at once) %.0f us (%.2fx)", mm["p50-us"], mm["floor-p50-us"], mm["floor-x"]), mm["floor-x"] <= 1.3
	}},
	{"R=3 durable write p50 <= 2x synced commit", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		out, ok := "", true
		for _, rf := range []string{"3", "1"} {
			for _, w := range []string{"1", "32"} {
				n := "BenchmarkDurableWrite/r=" + rf + "/writers=" + w
				s, r := m[n+"/stich"]["p50-us"], m[n+"/reference"]["p50-us"]
				if s == 0 || r == 0 {
					continue
				}
				out += fmt.Sprintf("R=%s %s writers: p50 %.0f us vs %.0f us (%.2fx); ", rf, w, s, r, s/r)
				if rf == "3" && w == "1" {
					ok = s/r <= 2
					if f := m[n+"/floor"]["p50-us"]; f != 0 {
						out += fmt.Sprintf("one-disk floor (2 of 3 stores synced at once) %.0f us (%.2fx); ", f, f/r)
					}
				}
			}
		}
		return out, ok
	}},
	{"Build to first rendered preview in a warm browser <= 3,000 ms (p50)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkFirstRender"]
		if mm["render-ms-p50"] == 0 {
			return "", true
		}
		return fmt.Sprintf("p50 %.0f ms, p90 %.0f ms (PreviewReady p50 %.0f ms, then the page %.0f ms; the built preview alone loads in %.0f ms; load average %.1f)",
			mm["render-ms-p50"], mm["render-ms-p90"], mm["ready-ms-p50"], mm["after-ready-ms-p50"], mm["load-ms-p50"], mm["load1"]), mm["render-ms-p50"] <= 3000
	}},
	{"model router overhead <= 0.5 ms (p50)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkRouterOverhead"]
		if mm["direct-p50-µs"] == 0 {
			return "", true
		}
		o := mm["overhead-p50-µs"]
		return fmt.Sprintf("direct p50 %.0f µs, through the router %.0f µs, overhead %+.0f µs", mm["direct-p50-µs"], mm["router-p50-µs"], o), o <= 500
	}},
	{"Nomad service change to routing within one blocking query + 1 ms (p50)", func(_ map[string]float64, m map[string]map[string]float64) (string, bool) {
		mm := m["BenchmarkServiceChangeToRouting"]
		q := mm["bare-query-p50-µs"]
		if q == 0 {
			return "", true
		}
		a, l := mm["appear-to-routed-p50-µs"], mm["leave-to-dropped-p50-µs"]
		return fmt.Sprintf("bare blocking query %.0f µs, appear→routed %.0f µs, leave→dropped %.0f µs", q, a, l), a <= q+1000 && l <= q+1000
	}},
	{"llm client first token overhead <= 2 ms", func(ns map[string]float64, _ map[string]map[string]float64) (string, bool) {
		s, r := ns["BenchmarkFirstToken/stich"], ns["BenchmarkFirstToken/reference"]
		if s == 0 || r == 0 {
			return "", true
		}
		d := (s - r) / 1e6
		return fmt.Sprintf("stich %.3f ms, reference %.3f ms, overhead %+.3f ms", s/1e6, r/1e6, d), d <= 2
	}},
}

func main() {
	samples := map[string][]float64{}
	metricSamples := map[string]map[string][]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			samples[m[1]] = append(samples[m[1]], v)
		}
		for _, mm := range metric.FindAllStringSubmatch(m[3], -1) {
			if mm[2] == "B/op" || mm[2] == "allocs/op" {
				continue
			}
			if metricSamples[m[1]] == nil {
				metricSamples[m[1]] = map[string][]float64{}
			}
			f, _ := strconv.ParseFloat(mm[1], 64)
			metricSamples[m[1]][mm[2]] = append(metricSamples[m[1]][mm[2]], f)
		}
	}
	// With -count N, each benchmark's figure (ns/op and every custom
	// metric) is the median of its runs: disk-bound figures (synced
	// commits) vary a lot between runs here.
	ns := map[string]float64{}
	for n, v := range samples {
		ns[n] = median(v)
	}
	metrics := map[string]map[string]float64{}
	for n, mm := range metricSamples {
		metrics[n] = map[string]float64{}
		for k, v := range mm {
			metrics[n][k] = median(v)
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
	var names2 []string
	for n := range metrics {
		names2 = append(names2, n)
	}
	sort.Strings(names2)
	if len(names2) > 0 {
		fmt.Println("\nother figures")
		for _, n := range names2 {
			var parts []string
			for k, v := range metrics[n] {
				parts = append(parts, fmt.Sprintf("%g %s", v, k))
			}
			sort.Strings(parts)
			fmt.Printf("%-52s %s\n", n, strings.Join(parts, ", "))
		}
	}
	fmt.Println("\nabsolute targets")
	for _, t := range absoluteTargets {
		desc, ok := t.check(ns, metrics)
		if desc == "" {
			continue
		}
		verdict := "ok"
		if !ok {
			verdict, failed = "MISSED", true
		}
		fmt.Printf("%-40s %s %s\n", t.name, verdict, desc)
	}
	if failed {
		os.Exit(1)
	}
}

// median returns the middle value of v (the upper one of an even count).
func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}
