package nomad

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// RenderHCL writes job as a Nomad job file (HCL2, as `nomad job run`
// reads it). It walks the `hcl` struct tags of package api, the same tags
// Nomad's own job parser decodes with, so a field is written under the
// name Nomad reads it by: an `,optional` field is an attribute, a `,block`
// field one block per element, a `,label` field the block's label.
// Unset (nil or zero) fields are left out. Durations are written as Go
// duration strings ("30s"), which Nomad parses.
//
// NB: strings are written with HCL escaping, so a runtime reference such
// as ${NOMAD_ALLOC_INDEX} appears as $${NOMAD_ALLOC_INDEX}: HCL turns it
// back into the literal ${NOMAD_ALLOC_INDEX}, which the Nomad client then
// interpolates when the task starts, exactly the string the API receives.
func RenderHCL(job *api.Job) []byte {
	f := hclwrite.NewEmptyFile()
	id := ""
	if job.ID != nil {
		id = *job.ID
	}
	b := f.Body().AppendNewBlock("job", []string{id}).Body()
	writeStruct(b, reflect.ValueOf(job).Elem(), map[string]bool{"id": true})
	return hclwrite.Format(f.Bytes())
}

var durationType = reflect.TypeFor[time.Duration]()

// writeStruct writes v's tagged fields into body: attributes first, then
// blocks, each in struct order (the order of Nomad's documentation).
func writeStruct(body *hclwrite.Body, v reflect.Value, skip map[string]bool) {
	t := v.Type()
	var blocks []func()
	written := 0
	for i := range t.NumField() {
		name, kind, ok := hclTag(t.Field(i))
		if !ok || skip[name] || kind == "label" {
			continue
		}
		fv := v.Field(i)
		if isEmpty(fv) {
			continue
		}
		if kind == "block" {
			blocks = append(blocks, func() { writeBlocks(body, name, fv) })
			continue
		}
		if val, ok := ctyValue(fv); ok {
			setAttr(body, name, val)
			written++
		}
	}
	for i, w := range blocks {
		if written > 0 && i == 0 {
			body.AppendNewline()
		}
		w()
	}
}

// setAttr writes one attribute; a multi-line string becomes a heredoc,
// the form people write templates in.
func setAttr(body *hclwrite.Body, name string, val cty.Value) {
	if val.Type() == cty.String && strings.Contains(val.AsString(), "\n") {
		body.SetAttributeRaw(name, heredoc(val.AsString()))
		return
	}
	body.SetAttributeValue(name, val)
}

func heredoc(s string) hclwrite.Tokens {
	s = strings.ReplaceAll(s, "${", "$${")
	s = strings.ReplaceAll(s, "%{", "%%{")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return hclwrite.Tokens{
		{Type: hclsyntax.TokenOHeredoc, Bytes: []byte("<<EOT\n")},
		{Type: hclsyntax.TokenStringLit, Bytes: []byte(s)},
		{Type: hclsyntax.TokenCHeredoc, Bytes: []byte("EOT")},
	}
}

// writeBlocks writes a `,block` field: a struct pointer is one block, a
// slice one block per element, a map of strings one block of attributes
// (meta, env), a map of structs one labelled block per key (volume), and
// a map of anything (a driver's config) one block of attributes.
func writeBlocks(body *hclwrite.Body, name string, fv reflect.Value) {
	switch fv.Kind() {
	case reflect.Pointer:
		writeOne(body, name, fv.Elem(), nil)
	case reflect.Struct:
		writeOne(body, name, fv, nil)
	case reflect.Slice:
		for i := range fv.Len() {
			e := fv.Index(i)
			if e.Kind() == reflect.Pointer {
				if e.IsNil() {
					continue
				}
				e = e.Elem()
			}
			writeOne(body, name, e, nil)
		}
	case reflect.Map:
		keys := fv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		elem := fv.Type().Elem()
		if elem.Kind() == reflect.Pointer && elem.Elem().Kind() == reflect.Struct {
			for _, k := range keys {
				writeOne(body, name, fv.MapIndex(k).Elem(), []string{k.String()})
			}
			return
		}
		bb := body.AppendNewBlock(name, nil).Body()
		for _, k := range keys {
			if val, ok := ctyValue(fv.MapIndex(k)); ok {
				setAttr(bb, k.String(), val)
			}
		}
	}
}

func writeOne(body *hclwrite.Body, name string, v reflect.Value, labels []string) {
	if labels == nil {
		labels = structLabels(v)
	}
	writeStruct(body.AppendNewBlock(name, labels).Body(), v, nil)
}

func structLabels(v reflect.Value) []string {
	var labels []string
	t := v.Type()
	for i := range t.NumField() {
		if _, kind, ok := hclTag(t.Field(i)); ok && kind == "label" {
			f := v.Field(i)
			if f.Kind() == reflect.Pointer {
				if f.IsNil() {
					labels = append(labels, "")
					continue
				}
				f = f.Elem()
			}
			labels = append(labels, f.String())
		}
	}
	return labels
}

func hclTag(f reflect.StructField) (name, kind string, ok bool) {
	tag, ok := f.Tag.Lookup("hcl")
	if !ok {
		return "", "", false
	}
	name, kind, _ = strings.Cut(tag, ",")
	if kind == "" {
		kind = "attr"
	}
	return name, kind, true
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// ctyValue converts an attribute's Go value.
func ctyValue(v reflect.Value) (cty.Value, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return cty.NilVal, false
		}
		v = v.Elem()
	}
	if v.Type() == durationType {
		return cty.StringVal(time.Duration(v.Int()).String()), true
	}
	switch v.Kind() {
	case reflect.String:
		return cty.StringVal(v.String()), true
	case reflect.Bool:
		return cty.BoolVal(v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cty.NumberIntVal(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cty.NumberUIntVal(v.Uint()), true
	case reflect.Float32, reflect.Float64:
		return cty.NumberFloatVal(v.Float()), true
	case reflect.Slice:
		if v.Len() == 0 {
			return cty.ListValEmpty(cty.String), true
		}
		var vals []cty.Value
		for i := range v.Len() {
			e, ok := ctyValue(v.Index(i))
			if !ok {
				return cty.NilVal, false
			}
			vals = append(vals, e)
		}
		return cty.TupleVal(vals), true
	case reflect.Map:
		m := map[string]cty.Value{}
		for _, k := range v.MapKeys() {
			e, ok := ctyValue(v.MapIndex(k))
			if !ok {
				return cty.NilVal, false
			}
			m[fmt.Sprint(k.Interface())] = e
		}
		return cty.ObjectVal(m), true
	}
	return cty.NilVal, false
}
