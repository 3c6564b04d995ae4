package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// LoadTests parses the module's test code under root: every _test.go file, and every other
// .go file that imports "testing" (helper packages such as internal/testnet), whatever its
// build constraints, skipping testdata and hidden directories.
func LoadTests(root string) (*Source, error) {
	src := &Source{Fset: token.NewFileSet()}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(src.Fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if !strings.HasSuffix(name, "_test.go") && importName(f, "testing") == "" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		src.Files = append(src.Files, &File{Path: p, Rel: filepath.ToSlash(rel), AST: f})
		return nil
	})
	return src, err
}

// failNowNames are the testing.TB methods that end the calling goroutine with runtime.Goexit.
// Called on any goroutine but the test's own, they do not stop the test: the failure may be
// lost, the test goes on with what the goroutine did not do, or testing panics.
var failNowNames = map[string]bool{"Fatal": true, "Fatalf": true, "FailNow": true, "Skip": true, "Skipf": true, "SkipNow": true}

// FailNowOffTestGoroutine lists the calls that may end a goroutine other than the test's own
// with FailNow: any testify require.* call, and t.Fatal, t.Fatalf, t.FailNow, t.Skip, t.Skipf
// and t.SkipNow (on any receiver), lexically inside
//
//   - a function literal started with a go statement, or handed to a .Go method
//     (sync.WaitGroup.Go, errgroup.Group.Go), to time.AfterFunc, or to a chromedp listener;
//   - an HTTP handler: a function literal or function with an http.ResponseWriter parameter, or
//     a ServeHTTP method (net/http runs each request on its own goroutine);
//   - a function or method of the same directory started by name with a go statement;
//
// and the calls, in those places, of a function or method of the module's test code that
// itself may call one of them, directly or through others of the same kind: a helper such as
// mustPost(t, ...). Calls are resolved by name, without type checking: a method call x.m()
// is resolved by x's type when the function declares it (a receiver, a parameter, a var, or a
// composite literal assigned with :=), and otherwise counts when any method m of that
// directory may fail. A t.Run or synctest.Test body inside such a place runs on its own
// goroutine with its own t and is not reported.
func (s *Source) FailNowOffTestGoroutine(module string) []Finding {
	var decls []funcDecl
	for _, f := range s.Files {
		for _, d := range f.AST.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				decls = append(decls, funcDecl{f, fd})
			}
		}
	}
	envs := map[*ast.FuncDecl]*scope{}
	for _, d := range decls {
		envs[d.fd] = newScope(d.f, d.fd, module)
	}
	// failing holds the functions that may call FailNow on their caller's goroutine, keyed
	// "dir name" and, for methods, "dir Type.name" and "dir *.name".
	failing := map[string]bool{}
	c := &failScan{module: module, failing: failing}
	for changed := true; changed; {
		changed = false
		for _, d := range decls {
			keys := d.keys()
			if failing[keys[0]] {
				continue
			}
			if len(c.calls(d.f, d.fd.Body, envs[d.fd], false)) > 0 {
				for _, k := range keys {
					failing[k] = true
				}
				changed = true
			}
		}
	}
	var out []Finding
	seen := map[token.Pos]bool{}
	report := func(f *File, env *scope, body ast.Node, where string) {
		for _, fc := range c.calls(f, body, env, true) {
			if seen[fc.pos] {
				continue
			}
			seen[fc.pos] = true
			out = append(out, s.finding(f, fc.pos, fc.what+" "+where))
		}
	}
	for _, d := range decls {
		f, env := d.f, envs[d.fd]
		httpName := importName(f.AST, "net/http")
		chromedpName := importName(f.AST, "github.com/chromedp/chromedp")
		if d.fd.Recv != nil && d.fd.Name.Name == "ServeHTTP" || hasResponseWriter(d.fd.Type, httpName) {
			report(f, env, d.fd.Body, "in an HTTP handler (a server goroutine)")
		}
		ast.Inspect(d.fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				switch fn := n.Call.Fun.(type) {
				case *ast.FuncLit:
					report(f, env, fn.Body, "in a goroutine (go func)")
				default:
					for _, g := range decls {
						if c.resolves(f, env, fn, g) {
							report(g.f, envs[g.fd], g.fd.Body, "in "+g.name()+", which is started as a goroutine")
						}
					}
				}
			case *ast.CallExpr:
				se, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				where := ""
				switch {
				case se.Sel.Name == "Go":
					where = "in a goroutine (" + exprString(se) + ")"
				case se.Sel.Name == "AfterFunc":
					where = "in a timer's goroutine (AfterFunc)"
				case strings.HasPrefix(se.Sel.Name, "Listen") && isIdent(se.X, chromedpName):
					where = "in a chromedp listener's goroutine"
				}
				if where == "" {
					return true
				}
				for _, a := range n.Args {
					if lit, ok := a.(*ast.FuncLit); ok {
						report(f, env, lit.Body, where)
					}
				}
			case *ast.FuncLit:
				if hasResponseWriter(n.Type, httpName) {
					report(f, env, n.Body, "in an HTTP handler (a server goroutine)")
				}
			}
			return true
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pos.Filename != out[j].Pos.Filename {
			return out[i].Pos.Filename < out[j].Pos.Filename
		}
		return out[i].Pos.Offset < out[j].Pos.Offset
	})
	return out
}

type funcDecl struct {
	f  *File
	fd *ast.FuncDecl
}

func (d funcDecl) dir() string { return path.Dir(d.f.Rel) }

// recvType is the name of a method's receiver type, or "".
func (d funcDecl) recvType() string {
	if d.fd.Recv == nil || len(d.fd.Recv.List) == 0 {
		return ""
	}
	t := d.fd.Recv.List[0].Type
	if st, ok := t.(*ast.StarExpr); ok {
		t = st.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

func (d funcDecl) name() string {
	if r := d.recvType(); r != "" {
		return r + "." + d.fd.Name.Name
	}
	return d.fd.Name.Name
}

func (d funcDecl) keys() []string {
	if r := d.recvType(); r != "" {
		return []string{d.dir() + " " + r + "." + d.fd.Name.Name, d.dir() + " *." + d.fd.Name.Name}
	}
	return []string{d.dir() + " " + d.fd.Name.Name}
}

type failScan struct {
	module  string
	failing map[string]bool
}

type failCall struct {
	pos  token.Pos
	what string
}

// calleeKey is the failing key a call of fn, in file f with the type environment env, would
// have: "" when fn is not a function of the module's test code.
func (c *failScan) calleeKey(f *File, env *scope, fn ast.Expr) string {
	dir := path.Dir(f.Rel)
	switch fn := fn.(type) {
	case *ast.Ident:
		return dir + " " + fn.Name
	case *ast.SelectorExpr:
		name := fn.Sel.Name
		x, ok := fn.X.(*ast.Ident)
		if !ok {
			return dir + " *." + name
		}
		if pkg := importedDir(f.AST, c.module, x.Name); pkg != "" {
			return pkg + " " + name
		}
		if isImportName(f.AST, x.Name) {
			return "" // another module's package
		}
		if t, ok := env.types[x.Name]; ok {
			if t == "" {
				return "" // a type from another module
			}
			return t + "." + name
		}
		return dir + " *." + name
	}
	return ""
}

// resolves reports whether a call of fn may call the function g.
func (c *failScan) resolves(f *File, env *scope, fn ast.Expr, g funcDecl) bool {
	k := c.calleeKey(f, env, fn)
	for _, gk := range g.keys() {
		if k == gk {
			return true
		}
	}
	return false
}

// calls lists the calls in body that may FailNow the goroutine running body: direct ones, and
// calls of functions c knows may. Subtest bodies (t.Run, synctest.Test) are skipped. With
// nested false, bodies of goroutines and handlers started inside are skipped as well (they
// are reported on their own); with nested true they are searched too.
func (c *failScan) calls(f *File, body ast.Node, env *scope, nested bool) []failCall {
	requireName := importName(f.AST, "github.com/stretchr/testify/require")
	httpName := importName(f.AST, "net/http")
	synctestName := importName(f.AST, "testing/synctest")
	var out []failCall
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			return nested
		case *ast.FuncLit:
			if hasResponseWriter(n.Type, httpName) {
				return nested
			}
		case *ast.CallExpr:
			if fn, ok := n.Fun.(*ast.SelectorExpr); ok {
				name := fn.Sel.Name
				switch {
				case name == "Run" || name == "Test" && isIdent(fn.X, synctestName):
					// A subtest's body runs on its own goroutine with its own t.
					ast.Inspect(fn.X, visit)
					for _, a := range n.Args {
						if lit, ok := a.(*ast.FuncLit); !ok || !takesTB(lit.Type) {
							ast.Inspect(a, visit)
						}
					}
					return false
				case (name == "Go" || name == "AfterFunc") && !nested:
					return false
				case isIdent(fn.X, requireName):
					out = append(out, failCall{n.Pos(), requireName + "." + name})
					return true
				case failNowNames[name]:
					out = append(out, failCall{n.Pos(), exprString(fn)})
					return true
				}
			}
			if id, ok := n.Fun.(*ast.Ident); ok && env.closures[id.Name] != nil {
				// A function literal the function keeps in a variable and calls here.
				lit := env.closures[id.Name]
				if !env.busy[lit] {
					env.busy[lit] = true
					inner := c.calls(f, lit.Body, env, false)
					delete(env.busy, lit)
					if len(inner) > 0 {
						out = append(out, failCall{n.Pos(), "a call of " + id.Name + ", which may call FailNow,"})
					}
				}
				return true
			}
			if k := c.calleeKey(f, env, n.Fun); k != "" && c.failing[k] {
				out = append(out, failCall{n.Pos(), "a call of " + exprString(n.Fun) + ", which may call FailNow,"})
			}
		}
		return true
	}
	ast.Inspect(body, visit)
	return out
}

// scope is what a function declaration declares that calls in it are resolved by.
type scope struct {
	// types maps the identifiers the function declares with a type the source names (its
	// receiver, its parameters and its function literals' parameters, var declarations, and
	// := of composite literals) to "dir Type" for a type of the module, or to "" for a type of
	// another module.
	types map[string]string
	// closures maps the identifiers assigned a function literal to it.
	closures map[string]*ast.FuncLit
	busy     map[*ast.FuncLit]bool
}

func newScope(f *File, fd *ast.FuncDecl, module string) *scope {
	dir := path.Dir(f.Rel)
	sc := &scope{types: map[string]string{}, closures: map[string]*ast.FuncLit{}, busy: map[*ast.FuncLit]bool{}}
	typeOf := func(t ast.Expr) (string, bool) {
		for {
			switch x := t.(type) {
			case *ast.StarExpr:
				t = x.X
				continue
			case *ast.UnaryExpr:
				t = x.X
				continue
			case *ast.CompositeLit:
				if x.Type == nil {
					return "", false
				}
				t = x.Type
				continue
			case *ast.Ident:
				return dir + " " + x.Name, true
			case *ast.SelectorExpr:
				if pkg, ok := x.X.(*ast.Ident); ok {
					if d := importedDir(f.AST, module, pkg.Name); d != "" {
						return d + " " + x.Sel.Name, true
					}
					return "", true
				}
			}
			return "", false
		}
	}
	fields := func(fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, fld := range fl.List {
			if t, ok := typeOf(fld.Type); ok {
				for _, n := range fld.Names {
					sc.types[n.Name] = t
				}
			}
		}
	}
	fields(fd.Recv)
	fields(fd.Type.Params)
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			fields(n.Type.Params)
		case *ast.ValueSpec:
			if n.Type != nil {
				if t, ok := typeOf(n.Type); ok {
					for _, id := range n.Names {
						sc.types[id.Name] = t
					}
				}
			}
			for i, v := range n.Values {
				if lit, ok := v.(*ast.FuncLit); ok && i < len(n.Names) {
					sc.closures[n.Names[i].Name] = lit
				}
			}
		case *ast.AssignStmt:
			if len(n.Lhs) != len(n.Rhs) {
				return true
			}
			for i, r := range n.Rhs {
				id, ok := n.Lhs[i].(*ast.Ident)
				if !ok {
					continue
				}
				switch r := r.(type) {
				case *ast.FuncLit:
					sc.closures[id.Name] = r
				case *ast.CompositeLit, *ast.UnaryExpr:
					if t, ok := typeOf(r); ok && n.Tok == token.DEFINE {
						sc.types[id.Name] = t
					}
				}
			}
		}
		return true
	})
	return sc
}

// importedDir is the directory, relative to the module root, of the module's package that f
// imports under name, or "".
func importedDir(f *ast.File, module, name string) string {
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		rel, ok := strings.CutPrefix(p, module+"/")
		if !ok {
			continue
		}
		local := rel[strings.LastIndex(rel, "/")+1:]
		if im.Name != nil {
			local = im.Name.Name
		}
		if local == name {
			return rel
		}
	}
	return ""
}

// isImportName reports whether f imports any package under the local name name.
func isImportName(f *ast.File, name string) bool {
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		local := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			local = im.Name.Name
		}
		if local == name {
			return true
		}
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && name != "" && id.Name == name
}

// takesTB reports whether a function type takes a *testing.T or *testing.B (a subtest body).
func takesTB(ft *ast.FuncType) bool {
	for _, p := range ft.Params.List {
		if st, ok := p.Type.(*ast.StarExpr); ok {
			if se, ok := st.X.(*ast.SelectorExpr); ok && (se.Sel.Name == "T" || se.Sel.Name == "B") {
				return true
			}
		}
	}
	return false
}

// hasResponseWriter reports whether a function type takes an http.ResponseWriter.
func hasResponseWriter(ft *ast.FuncType, httpName string) bool {
	if httpName == "" {
		return false
	}
	for _, p := range ft.Params.List {
		if se, ok := p.Type.(*ast.SelectorExpr); ok && se.Sel.Name == "ResponseWriter" && isIdent(se.X, httpName) {
			return true
		}
	}
	return false
}
