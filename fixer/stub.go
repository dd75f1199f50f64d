package fixer

import (
	"fmt"
	"regexp"
	"strings"
)

var npmName = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)

// shape is what a missing name must be, judged from its use.
type shape int

const (
	shapeValue     shape = iota // read as a value: const X: any
	shapeObject                 // members read (X.y): const X: any = {}
	shapeComponent              // used as a JSX tag
	shapeFunction               // called
	shapeClass                  // constructed with new, or extended
	shapeType                   // used only as a type
)

func shapeOf(name string, u *usage) shape {
	switch {
	case u == nil || u.Count == 0:
		if isPascal(name) {
			return shapeComponent
		}
		return shapeValue
	case u.JSX && len(u.Members) == 0:
		return shapeComponent
	case u.New:
		return shapeClass
	case u.Call:
		return shapeFunction
	case u.Value && len(u.Members) > 0:
		return shapeObject
	case u.Value:
		return shapeValue
	case u.Type:
		return shapeType
	}
	return shapeValue
}

func isPascal(name string) bool {
	return name != "" && name[0] >= 'A' && name[0] <= 'Z'
}

// stub is the declaration text for a missing name.
type stub struct {
	code string
	// reactNode: the code names ReactNode, which the file must import.
	reactNode bool
}

// stubFor writes a placeholder for name that type-checks however u says it
// is used: components render their children, hooks return what their
// callers destructure, values are typed any. prefix is "export " or "";
// isDefault makes it the default export; tsx allows JSX in the code.
func stubFor(name string, u *usage, prefix string, isDefault, tsx bool) stub {
	var b strings.Builder
	s := stub{}
	sh := shapeOf(name, u)
	fnPrefix := prefix
	if isDefault {
		fnPrefix = "export default "
	}
	switch sh {
	case shapeComponent:
		if tsx {
			fmt.Fprintf(&b, "%sfunction %s({ children }: { children?: ReactNode; [prop: string]: unknown }) {\n  return <>{children}</>;\n}\n", fnPrefix, name)
			s.reactNode = true
		} else {
			fmt.Fprintf(&b, "%sfunction %s(_props: { [prop: string]: unknown }) {\n  return null;\n}\n", fnPrefix, name)
		}
	case shapeFunction:
		ret := "undefined"
		switch u.Result {
		case "array":
			ret = "[]"
		case "object":
			ret = "{}"
		}
		fmt.Fprintf(&b, "%sfunction %s(..._args: unknown[]): any {\n  return %s;\n}\n", fnPrefix, name, ret)
	case shapeClass:
		fmt.Fprintf(&b, "%sclass %s {\n  [key: string]: any;\n  constructor(..._args: unknown[]) {}\n}\n", fnPrefix, name)
	case shapeType:
		fmt.Fprintf(&b, "%stype %s%s = any;\n", prefix, name, typeParams(u.TypeArgs))
		if isDefault {
			fmt.Fprintf(&b, "export default %s;\n", name)
		}
	default:
		init := "undefined"
		if sh == shapeObject {
			init = "{}"
		}
		fmt.Fprintf(&b, "%sconst %s: any = %s;\n", prefix, name, init)
		if isDefault {
			fmt.Fprintf(&b, "export default %s;\n", name)
		}
	}
	// A name used both as a value and as a type gets a type too.
	if sh != shapeType && u != nil && u.Type && sh != shapeClass {
		fmt.Fprintf(&b, "%stype %s%s = any;\n", prefix, name, typeParams(u.TypeArgs))
	}
	s.code = b.String()
	return s
}

func typeParams(n int) string {
	if n <= 0 {
		return ""
	}
	var ps []string
	for i := range min(n, 8) {
		ps = append(ps, fmt.Sprintf("_T%d = unknown", i))
	}
	return "<" + strings.Join(ps, ", ") + ">"
}

// namespaceStub writes the exports a namespace import (import * as ns)
// reads.
func namespaceStub(u *usage) string {
	var b strings.Builder
	if u == nil {
		return ""
	}
	for _, m := range u.Members {
		fmt.Fprintf(&b, "export const %s: any = (..._args: unknown[]): any => undefined;\n", m)
		if u.Type {
			fmt.Fprintf(&b, "export type %s = any;\n", m)
		}
	}
	return b.String()
}

// reactValues and reactTypes are what an app commonly uses from "react"
// without importing it; reactDOM likewise for "react-dom".
var (
	reactValues = set("Children", "Component", "Fragment", "Profiler", "PureComponent", "StrictMode", "Suspense",
		"cache", "cloneElement", "createContext", "createElement", "createRef", "forwardRef", "isValidElement", "lazy",
		"memo", "startTransition", "use", "useActionState", "useCallback", "useContext", "useDebugValue",
		"useDeferredValue", "useEffect", "useId", "useImperativeHandle", "useInsertionEffect", "useLayoutEffect",
		"useMemo", "useOptimistic", "useReducer", "useRef", "useState", "useSyncExternalStore", "useTransition")
	reactTypes = set("ReactNode", "ReactElement", "FC", "FunctionComponent", "ComponentType", "ComponentProps",
		"ComponentPropsWithoutRef", "ComponentPropsWithRef", "PropsWithChildren", "CSSProperties", "ChangeEvent",
		"FormEvent", "Dispatch", "SetStateAction", "RefObject", "MutableRefObject", "Ref", "ReactPortal",
		"HTMLAttributes", "ButtonHTMLAttributes", "InputHTMLAttributes", "TextareaHTMLAttributes",
		"SelectHTMLAttributes", "AnchorHTMLAttributes", "SyntheticEvent", "ElementType", "JSX", "Key", "Reducer",
		"Context", "ChangeEventHandler", "MouseEventHandler", "FormEventHandler", "KeyboardEventHandler")
	reactDOMValues = set("createPortal", "flushSync")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
