package eval

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"
)

// bar is one bar of an inline SVG chart.
type bar struct {
	Label  string
	Value  float64
	Text   string
	X, W   float64
	Y      float64
	Colour string
}

type chart struct {
	Title  string
	Bars   []bar
	Height float64
}

// barChart lays out horizontal bars scaled to the largest value.
func barChart(title string, labels []string, values []float64, texts []string, colour string) chart {
	c := chart{Title: title}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	const rowH, labelW, barW = 22.0, 220.0, 420.0
	for i, l := range labels {
		w := 0.0
		if top > 0 {
			w = barW * values[i] / top
		}
		c.Bars = append(c.Bars, bar{Label: l, Value: values[i], Text: texts[i], X: labelW, W: w, Y: float64(i) * rowH, Colour: colour})
	}
	c.Height = float64(len(labels))*rowH + 4
	return c
}

type categoryRow struct {
	Name                   string
	Apps, Viable, Fixed    int
	NeededFixing, Placehld int
}

type appRow struct {
	App
	Viable bool
	Reason string
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms": func(ms int64) string {
		return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
	},
	"usd":  func(v float64) string { return fmt.Sprintf("$%.4f", v) },
	"pct":  func(v float64) string { return fmt.Sprintf("%.1f%%", v) },
	"bool": func(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] },
	"rendered": func(r *bool) string {
		if r == nil {
			return "not checked"
		}
		return map[bool]string{true: "yes", false: "no"}[*r]
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stich eval: {{.Run.Provider}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#f3f3f3}.no{color:#b00}.yes{color:#070}.score td{font-size:15px}
svg text{font-size:12px;font-family:system-ui,sans-serif}
</style></head><body>
<h1>stich eval — {{.Run.Provider}}{{if .Run.Model}} ({{.Run.Model}}){{end}}</h1>
<p>{{len .Run.Apps}} prompts from {{.Run.PromptFile}}, concurrency {{.Run.Concurrency}}, {{.Run.Started.Format "2006-01-02 15:04 MST"}}, took {{.Took}}.</p>
<h2>Scoreboard</h2>
<table class="score">
<tr><th>viable apps</th><td>{{.S.Viable}}/{{.S.Apps}} ({{pct .S.ViablePct}})</td></tr>
<tr><th>deterministic fix rate</th><td>{{.S.Fixed}}/{{.S.NeededFixing}} apps with type errors made clean without placeholders ({{pct .S.FixRatePct}})</td></tr>
<tr><th>clean before / after the fixer</th><td>{{.S.CleanBefore}} / {{.S.CleanAfter}}</td></tr>
<tr><th>placeholders left (need a model)</th><td>{{.S.Placeholders}}</td></tr>
<tr><th>built</th><td>{{.S.Built}}</td></tr>
<tr><th>dollars per viable app</th><td>{{usd .S.CostPerViable}} (total {{usd .S.CostUSD}}, {{.S.Tokens}} tokens)</td></tr>
<tr><th>time to preview</th><td>p50 {{ms .S.PreviewP50MS}}, p90 {{ms .S.PreviewP90MS}}</td></tr>
<tr><th>runtime check (after the preview)</th><td>p50 {{ms .S.RuntimeP50MS}}</td></tr>
</table>
{{if .Regressions}}<h2 class="no">Regressions against {{.BaselineName}}</h2><ul>{{range .Regressions}}<li>{{if .Prompt}}<b>{{.Prompt}}</b>: {{end}}{{.What}}</li>{{end}}</ul>{{end}}
<h2>By category</h2>
<table><tr><th>category</th><th>apps</th><th>viable</th><th>needed fixing</th><th>fixed</th><th>placeholders</th></tr>
{{range .Categories}}<tr><td>{{.Name}}</td><td>{{.Apps}}</td><td>{{.Viable}}</td><td>{{.NeededFixing}}</td><td>{{.Fixed}}</td><td>{{.Placehld}}</td></tr>{{end}}
</table>
{{range .Charts}}<h3>{{.Title}}</h3>
<svg width="760" height="{{.Height}}" role="img" aria-label="{{.Title}}">{{range .Bars}}
<text x="0" y="{{.Y}}" dy="15">{{.Label}}</text><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="18" fill="{{.Colour}}"></rect><text x="{{.X}}" dx="{{.W}}" y="{{.Y}}" dy="14" dx="4"> {{.Text}}</text>{{end}}
</svg>{{end}}
<h2>Apps</h2>
<table><tr><th>#</th><th>category</th><th>prompt</th><th>viable</th><th>generated</th><th>clean before</th><th>clean after</th><th>fixes</th><th>placeholders</th><th>built</th><th>rendered</th><th>time to preview</th><th>tokens</th><th>cost</th><th>why not viable</th></tr>
{{range $i, $a := .Apps}}<tr><td>{{$i}}</td><td>{{$a.Prompt.Category}}</td><td>{{$a.Prompt.Text}}</td><td class="{{bool $a.Viable}}">{{bool $a.Viable}}</td><td>{{bool $a.Generated}}</td><td>{{bool $a.CleanBefore}} ({{$a.ErrorsBefore}})</td><td>{{bool $a.CleanAfter}} ({{$a.ErrorsAfter}})</td><td>{{$a.Fixes}}</td><td>{{$a.Placeholders}}</td><td>{{bool $a.Built}}</td><td>{{rendered $a.Rendered}}</td><td>{{ms $a.PreviewMS}}</td><td>{{$a.PromptTokens}}+{{$a.CompletionTokens}}</td><td>{{usd $a.CostUSD}}</td><td>{{if not $a.Viable}}{{$a.Reason}}{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// WriteHTML writes a static report of run: the scoreboard, regressions
// against baseline (when given), a table per category and per app, and
// inline SVG charts. It loads nothing from elsewhere.
func WriteHTML(w io.Writer, run Run, baseline *Run, baselineName string) error {
	s := Summarize(run)
	cats := map[string]*categoryRow{}
	var names []string
	for _, a := range run.Apps {
		c := cats[a.Prompt.Category]
		if c == nil {
			c = &categoryRow{Name: a.Prompt.Category}
			cats[a.Prompt.Category] = c
			names = append(names, a.Prompt.Category)
		}
		c.Apps++
		if a.Viable() {
			c.Viable++
		}
		if a.Generated && !a.CleanBefore {
			c.NeededFixing++
			if a.CleanAfter && a.Placeholders == 0 {
				c.Fixed++
			}
		}
		c.Placehld += a.Placeholders
	}
	sort.Strings(names)
	var rows []categoryRow
	var labels, viableTexts, timeTexts []string
	var viableVals, timeVals []float64
	for _, n := range names {
		c := cats[n]
		rows = append(rows, *c)
		labels = append(labels, n)
		viableVals = append(viableVals, 100*float64(c.Viable)/float64(c.Apps))
		viableTexts = append(viableTexts, fmt.Sprintf("%d/%d viable", c.Viable, c.Apps))
	}
	var appLabels []string
	for i, a := range run.Apps {
		if a.PreviewMS > 0 {
			appLabels = append(appLabels, fmt.Sprintf("%d %.28s", i, a.Prompt.Text))
			timeVals = append(timeVals, float64(a.PreviewMS))
			timeTexts = append(timeTexts, (time.Duration(a.PreviewMS) * time.Millisecond).Round(100*time.Millisecond).String())
		}
	}
	charts := []chart{barChart("Viable apps by category (%)", labels, viableVals, viableTexts, "#3a7")}
	if len(timeVals) > 0 {
		charts = append(charts, barChart("Time to preview per app", appLabels, timeVals, timeTexts, "#37a"))
	}
	var apps []appRow
	for _, a := range run.Apps {
		apps = append(apps, appRow{App: a, Viable: a.Viable(), Reason: a.reason()})
	}
	var regs []Regression
	if baseline != nil {
		regs = Compare(*baseline, run)
	}
	return reportTmpl.Execute(w, map[string]any{
		"Run": run, "S": s, "Took": run.Finished.Sub(run.Started).Round(time.Second), "Categories": rows,
		"Charts": charts, "Apps": apps, "Regressions": regs, "BaselineName": baselineName,
	})
}
