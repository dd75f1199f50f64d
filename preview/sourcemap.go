package preview

import (
	"encoding/json"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Source maps: a development build links one per bundle (sourcemap), but
// a browser's error.stack names places in the bundle. MapStack turns the
// first frame of a stack that lies in the app's own sources into a file
// and line of the app, so that an error links to the line.

// Location is a place in the app's sources.
type Location struct {
	File         string // relative to the app's root: "src/App.tsx"
	Line, Column int    // 1-based
}

// stackFrame matches "URL:LINE:COLUMN" in a stack line (Chromium and
// Firefox both end a frame so).
var stackFrame = regexp.MustCompile(`(https?://[^\s()]+|/[^\s():]+\.m?js):(\d+):(\d+)`)

// MapStack returns the app location of the first frame of stack (as
// error.stack prints it) that a source map of this build resolves to a
// file of the app (not a dependency's).
func (p *Preview) MapStack(stack string) (Location, bool) {
	for _, m := range stackFrame.FindAllStringSubmatch(stack, 20) {
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		if loc, ok := p.MapLocation(m[1], line, col); ok {
			return loc, true
		}
	}
	return Location{}, false
}

// MapLocation resolves a 1-based line and column of a served script
// (by its URL or path) to the app's source, with the script's source map.
func (p *Preview) MapLocation(script string, line, col int) (Location, bool) {
	if p == nil || line < 1 {
		return Location{}, false
	}
	name := script
	if u, err := url.Parse(script); err == nil && u.Path != "" {
		name = u.Path
	}
	m, ok := p.mapFor(path.Clean("/" + name))
	if !ok {
		return Location{}, false
	}
	src, sl, sc, ok := m.lookup(line-1, max(col-1, 0))
	if !ok {
		return Location{}, false
	}
	file := cleanSource(src)
	if file == "" || strings.Contains(file, "node_modules/") {
		return Location{}, false
	}
	return Location{File: file, Line: sl + 1, Column: sc + 1}, true
}

// mapFor finds the source map of the script served at name, or of the
// served script whose path name ends with (a preview may be served under
// a base path).
func (p *Preview) mapFor(name string) (*sourceMap, bool) {
	key := name + ".map"
	body, ok := p.files[key]
	if !ok {
		for k, a := range p.files {
			if strings.HasSuffix(k, ".js.map") && strings.HasSuffix(key, k) {
				key, body, ok = k, a, true
				break
			}
		}
	}
	if !ok {
		return nil, false
	}
	p.mapsMu.Lock()
	defer p.mapsMu.Unlock()
	if sm, ok := p.maps[key]; ok {
		return sm, sm != nil
	}
	sm := &sourceMap{}
	if err := json.Unmarshal(body.body, sm); err != nil || sm.Version != 3 {
		sm = nil
	}
	if p.maps == nil {
		p.maps = map[string]*sourceMap{}
	}
	p.maps[key] = sm
	return sm, sm != nil
}

// cleanSource makes a source map's source path (relative to the map,
// which sits in the build's output folder) a path of the app.
func cleanSource(s string) string {
	s = strings.TrimPrefix(s, "webpack://")
	for strings.HasPrefix(s, "../") || strings.HasPrefix(s, "./") {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "../"), "./")
	}
	s = strings.TrimPrefix(path.Clean("/"+s), "/")
	if s == "." {
		return ""
	}
	return s
}

type sourceMap struct {
	Version  int      `json:"version"`
	Sources  []string `json:"sources"`
	Mappings string   `json:"mappings"`
}

// lookup returns the source position of the last mapping at or before
// the 0-based generated line and column.
func (m *sourceMap) lookup(line, col int) (string, int, int, bool) {
	lines := strings.Split(m.Mappings, ";")
	if line >= len(lines) {
		return "", 0, 0, false
	}
	var src, sl, sc int // running values across lines
	found := false
	var bestSrc, bestLine, bestCol int
	for i := 0; i <= line; i++ {
		gc := 0
		for _, seg := range strings.Split(lines[i], ",") {
			if seg == "" {
				continue
			}
			v, ok := decodeVLQ(seg)
			if !ok {
				return "", 0, 0, false
			}
			gc += v[0]
			if len(v) >= 4 {
				src, sl, sc = src+v[1], sl+v[2], sc+v[3]
				if i == line && gc <= col {
					bestSrc, bestLine, bestCol, found = src, sl, sc, true
				}
			}
		}
	}
	if !found || bestSrc < 0 || bestSrc >= len(m.Sources) {
		return "", 0, 0, false
	}
	return m.Sources[bestSrc], bestLine, bestCol, true
}

const vlqChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// decodeVLQ decodes one source map segment (base64 VLQ values).
func decodeVLQ(seg string) ([]int, bool) {
	var out []int
	val, shift := 0, 0
	for i := 0; i < len(seg); i++ {
		d := strings.IndexByte(vlqChars, seg[i])
		if d < 0 || shift > 30 {
			return nil, false
		}
		val += (d & 31) << shift
		if d&32 != 0 {
			shift += 5
			continue
		}
		if val&1 != 0 {
			out = append(out, -(val >> 1))
		} else {
			out = append(out, val>>1)
		}
		val, shift = 0, 0
	}
	return out, shift == 0 && len(out) > 0
}
