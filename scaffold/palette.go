package scaffold

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// A blueprint's color_palette is five hex colors, in this order:
// primary, accent, background, surface, text.
var palettes = map[string][5]string{
	"ocean":    {"#2563eb", "#0891b2", "#f5f8fc", "#ffffff", "#0f172a"},
	"forest":   {"#15803d", "#ca8a04", "#f6faf5", "#ffffff", "#142117"},
	"sunset":   {"#c2410c", "#d97706", "#fffaf5", "#ffffff", "#2b1a10"},
	"berry":    {"#7c3aed", "#db2777", "#faf7ff", "#ffffff", "#1e1530"},
	"lagoon":   {"#0f766e", "#ea580c", "#f3faf9", "#ffffff", "#10201e"},
	"rose":     {"#be123c", "#ea580c", "#fff7f8", "#ffffff", "#2a1217"},
	"slate":    {"#334155", "#6366f1", "#f6f7f9", "#ffffff", "#0f172a"},
	"indigo":   {"#4338ca", "#0d9488", "#f7f7fc", "#ffffff", "#1b1b3a"},
	"midnight": {"#818cf8", "#22d3ee", "#0b1020", "#151b2e", "#e2e8f0"},
}

// lightPalettes are the palettes picked by hash when nothing in the prompt
// suggests one, in a fixed order.
var lightPalettes = func() []string {
	var names []string
	for name := range palettes {
		if name != "midnight" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}()

type rgb struct{ r, g, b float64 }

// parseHex reads #rgb or #rrggbb.
func parseHex(s string) (rgb, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "#") {
		return rgb{}, false
	}
	h := s[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return rgb{}, false
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return rgb{}, false
	}
	return rgb{float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)}, true
}

func (c rgb) hex() string {
	clamp := func(f float64) int { return int(math.Max(0, math.Min(255, math.Round(f)))) }
	return fmt.Sprintf("#%02x%02x%02x", clamp(c.r), clamp(c.g), clamp(c.b))
}

func mix(a, b rgb, t float64) rgb {
	return rgb{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t}
}

// luminance is the WCAG relative luminance.
func (c rgb) luminance() float64 {
	ch := func(v float64) float64 {
		v /= 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
}

func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// colors is a validated palette plus the shades derived from it; every value
// is a #rrggbb string, safe to place in CSS and SVG.
type colors struct {
	Primary, Accent, Bg, Surface, Text                             string
	PrimaryText, PrimarySoft, Border, Muted, Danger, Success, Star string
	Dark                                                           bool
}

// resolveColors validates a blueprint palette, falling back to the ocean
// palette entry by entry, and derives the remaining shades.
func resolveColors(in []string) colors {
	def := palettes["ocean"]
	var c [5]rgb
	for i := range c {
		v, ok := rgb{}, false
		if i < len(in) {
			v, ok = parseHex(in[i])
		}
		if !ok {
			v, _ = parseHex(def[i])
		}
		c[i] = v
	}
	primary, accent, bg, surface, text := c[0], c[1], c[2], c[3], c[4]
	white, black := rgb{255, 255, 255}, rgb{17, 17, 17}
	primaryText := white
	if contrast(primary, white) < contrast(primary, black) {
		primaryText = black
	}
	dark := bg.luminance() < 0.2
	danger, success, star := rgb{185, 28, 28}, rgb{21, 128, 61}, rgb{217, 119, 6}
	if dark {
		danger, success, star = rgb{248, 113, 113}, rgb{74, 222, 128}, rgb{251, 191, 36}
	}
	return colors{
		Primary: primary.hex(), Accent: accent.hex(), Bg: bg.hex(), Surface: surface.hex(), Text: text.hex(),
		PrimaryText: primaryText.hex(),
		PrimarySoft: mix(bg, primary, 0.12).hex(),
		Border:      mix(bg, text, 0.16).hex(),
		Muted:       mix(text, bg, 0.38).hex(),
		Danger:      danger.hex(), Success: success.hex(), Star: star.hex(),
		Dark: dark,
	}
}
