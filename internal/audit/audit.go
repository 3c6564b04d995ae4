package audit

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Finding is one violation, at file:line, inside a function (or "" at file level).
type Finding struct {
	Pos  token.Position
	Func string
	What string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d (%s): %s", f.Pos.Filename, f.Pos.Line, f.Func, f.What)
}

// Site names a function: the file's path relative to the module root, then the function,
// "cmd/sealdrop/serve.go:serve". Methods are "Type.Method".
func (f Finding) Site(root string) string {
	rel, err := filepath.Rel(root, f.Pos.Filename)
	if err != nil {
		rel = f.Pos.Filename
	}
	return filepath.ToSlash(rel) + ":" + f.Func
}

// File is a parsed source file.
type File struct {
	Path string // absolute
	Rel  string // relative to the module root, slash-separated
	AST  *ast.File
}

// Source is a set of parsed files sharing one FileSet.
type Source struct {
	Fset  *token.FileSet
	Files []*File
}

// LoadModule parses every non-test .go file under root that the default build context
// (this GOOS/GOARCH, no tags) would compile, skipping testdata and hidden directories.
func LoadModule(root string) (*Source, error) {
	src := &Source{Fset: token.NewFileSet()}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		if ok, err := build.Default.MatchFile(filepath.Dir(path), name); err != nil || !ok {
			return err
		}
		f, err := parser.ParseFile(src.Fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		src.Files = append(src.Files, &File{Path: path, Rel: filepath.ToSlash(rel), AST: f})
		return nil
	})
	return src, err
}

// ParseSnippet parses one file's source (for the checkers' own tests).
func ParseSnippet(rel, code string) (*Source, error) {
	src := &Source{Fset: token.NewFileSet()}
	f, err := parser.ParseFile(src.Fset, rel, code, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	src.Files = []*File{{Path: rel, Rel: rel, AST: f}}
	return src, nil
}

// funcAt returns the name of the function declaration enclosing pos.
func funcAt(f *ast.File, pos token.Pos) string {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || pos < fd.Pos() || pos > fd.End() {
			continue
		}
		if fd.Recv != nil && len(fd.Recv.List) > 0 {
			t := fd.Recv.List[0].Type
			if st, ok := t.(*ast.StarExpr); ok {
				t = st.X
			}
			if id, ok := t.(*ast.Ident); ok {
				return id.Name + "." + fd.Name.Name
			}
		}
		return fd.Name.Name
	}
	return ""
}

func (s *Source) finding(f *File, pos token.Pos, what string) Finding {
	return Finding{Pos: s.Fset.Position(pos), Func: funcAt(f.AST, pos), What: what}
}

// importName returns the local name under which f imports path, or "".
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		if p != path {
			continue
		}
		if im.Name != nil {
			return im.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

// ForbiddenImports lists imports of any of paths.
func (s *Source) ForbiddenImports(paths ...string) []Finding {
	var out []Finding
	for _, f := range s.Files {
		for _, im := range f.AST.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, bad := range paths {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					out = append(out, s.finding(f, im.Pos(), "imports "+p))
				}
			}
		}
	}
	return out
}

// PackageUses lists every use of path's exported names among names (hmac.Equal, under any
// local name the file gives the import).
func (s *Source) PackageUses(path string, names ...string) []Finding {
	var out []Finding
	for _, f := range s.Files {
		local := importName(f.AST, path)
		if local == "" {
			continue
		}
		ast.Inspect(f.AST, func(n ast.Node) bool {
			se, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := se.X.(*ast.Ident); ok && id.Name == local && slices.Contains(names, se.Sel.Name) {
				out = append(out, s.finding(f, se.Pos(), path+"."+se.Sel.Name))
			}
			return true
		})
	}
	return out
}

// Prints lists every use of package log, of fmt.Print*, of fmt.Fprint* to os.Stdout or
// os.Stderr, of os.Stdout and os.Stderr themselves, and of the print/println builtins.
func (s *Source) Prints() []Finding {
	var out []Finding
	for _, f := range s.Files {
		logName, fmtName, osName := importName(f.AST, "log"), importName(f.AST, "fmt"), importName(f.AST, "os")
		slogName := importName(f.AST, "log/slog")
		ast.Inspect(f.AST, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				id, ok := n.X.(*ast.Ident)
				if !ok {
					return true
				}
				switch {
				case logName != "" && id.Name == logName && n.Sel.Name != "New" && n.Sel.Name != "Logger":
					out = append(out, s.finding(f, n.Pos(), "log."+n.Sel.Name))
				case slogName != "" && id.Name == slogName:
					out = append(out, s.finding(f, n.Pos(), "slog."+n.Sel.Name))
				case fmtName != "" && id.Name == fmtName && strings.HasPrefix(n.Sel.Name, "Print"):
					out = append(out, s.finding(f, n.Pos(), "fmt."+n.Sel.Name))
				case osName != "" && id.Name == osName && (n.Sel.Name == "Stdout" || n.Sel.Name == "Stderr"):
					out = append(out, s.finding(f, n.Pos(), "os."+n.Sel.Name))
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "print" || id.Name == "println") && id.Obj == nil {
					out = append(out, s.finding(f, n.Pos(), id.Name))
				}
				// Writes through the stdout/stderr a command was handed: fmt.Fprint*(stdout, ...),
				// io.WriteString(stderr, ...), stdout.Write(...).
				if se, ok := n.Fun.(*ast.SelectorExpr); ok {
					if x, ok := se.X.(*ast.Ident); ok && len(n.Args) > 0 && (x.Name == fmtName || x.Name == importName(f.AST, "io")) {
						if w, ok := n.Args[0].(*ast.Ident); ok && (w.Name == "stdout" || w.Name == "stderr") {
							out = append(out, s.finding(f, n.Pos(), x.Name+"."+se.Sel.Name+"("+w.Name+")"))
						}
					}
					if x, ok := se.X.(*ast.Ident); ok && (x.Name == "stdout" || x.Name == "stderr") && strings.HasPrefix(se.Sel.Name, "Write") {
						out = append(out, s.finding(f, n.Pos(), x.Name+"."+se.Sel.Name))
					}
				}
			}
			return true
		})
	}
	return out
}

// RemoteAddr lists every read of a field or method named RemoteAddr.
func (s *Source) RemoteAddr() []Finding {
	var out []Finding
	for _, f := range s.Files {
		ast.Inspect(f.AST, func(n ast.Node) bool {
			if se, ok := n.(*ast.SelectorExpr); ok && se.Sel.Name == "RemoteAddr" {
				out = append(out, s.finding(f, se.Pos(), "RemoteAddr"))
			}
			return true
		})
	}
	return out
}

// Selector lists every selector expression naming name (pkg.name, x.name): where a function,
// method or field of that name is used.
func (s *Source) Selector(name string) []Finding {
	var out []Finding
	for _, f := range s.Files {
		ast.Inspect(f.AST, func(n ast.Node) bool {
			if se, ok := n.(*ast.SelectorExpr); ok && se.Sel.Name == name {
				out = append(out, s.finding(f, se.Pos(), name))
			}
			return true
		})
	}
	return out
}

// cookieNames are the selectors through which Go code sets, reads or keeps an HTTP cookie:
// net/http's Cookie type, Request.Cookie/Cookies/CookiesNamed/AddCookie, http.SetCookie,
// ParseCookie/ParseSetCookie, Response.Cookies, a Client's Jar and its CookieJar interface.
var cookieNames = []string{"Cookie", "Cookies", "CookiesNamed", "AddCookie", "SetCookie", "ParseCookie",
	"ParseSetCookie", "CookieJar", "Jar"}

// cookieHeaders are the header names of a cookie, matched in any case in a string literal
// (r.Header.Get("Cookie"), w.Header().Set("Set-Cookie", ...), h["Set-Cookie"]).
var cookieHeaders = []string{"Cookie", "Set-Cookie", "Set-Cookie2"}

// Cookies lists every place that could set or read an HTTP cookie: a selector among
// cookieNames, a string literal that is a cookie header's name, and an import of
// net/http/cookiejar.
func (s *Source) Cookies() []Finding {
	var out []Finding
	for _, f := range s.Files {
		if importName(f.AST, "net/http/cookiejar") != "" {
			out = append(out, s.finding(f, f.AST.Package, "imports net/http/cookiejar"))
		}
		ast.Inspect(f.AST, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if slices.Contains(cookieNames, n.Sel.Name) {
					out = append(out, s.finding(f, n.Pos(), "."+n.Sel.Name))
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				v, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, h := range cookieHeaders {
					if strings.EqualFold(strings.TrimSpace(v), h) {
						out = append(out, s.finding(f, n.Pos(), "header "+strconv.Quote(v)))
					}
				}
			}
			return true
		})
	}
	return out
}

// UnrecoveredGoroutines lists go statements whose goroutine does not start with a deferred
// call that recovers: either a function literal whose body defers a function calling
// recover(), or a call of a function declared in the same Source that does.
func (s *Source) UnrecoveredGoroutines() []Finding {
	// Functions are looked up by package directory and name: two packages may both have a
	// "sweeper", and only the one in the go statement's own package counts.
	decls := map[string]*ast.FuncDecl{}
	for _, f := range s.Files {
		for _, d := range f.AST.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				decls[path.Dir(f.Rel)+"."+fd.Name.Name] = fd
			}
		}
	}
	var out []Finding
	for _, f := range s.Files {
		ast.Inspect(f.AST, func(n ast.Node) bool {
			g, ok := n.(*ast.GoStmt)
			if !ok {
				return true
			}
			var body *ast.BlockStmt
			switch fn := g.Call.Fun.(type) {
			case *ast.FuncLit:
				body = fn.Body
			case *ast.Ident:
				if d := decls[path.Dir(f.Rel)+"."+fn.Name]; d != nil {
					body = d.Body
				}
			case *ast.SelectorExpr:
				if d := decls[path.Dir(f.Rel)+"."+fn.Sel.Name]; d != nil {
					body = d.Body
				}
			}
			if body == nil || !defersRecover(body) {
				out = append(out, s.finding(f, g.Pos(), "goroutine without a deferred recover: go "+exprString(g.Call.Fun)))
			}
			return true
		})
	}
	return out
}

// defersRecover reports whether a top-level statement of body defers a call of a function
// literal that calls recover, or defers a named function that does (by name only: helpers
// such as "recoverSilently" are recognised by their body when declared in the Source).
func defersRecover(body *ast.BlockStmt) bool {
	for _, st := range body.List {
		d, ok := st.(*ast.DeferStmt)
		if !ok {
			continue
		}
		if lit, ok := d.Call.Fun.(*ast.FuncLit); ok && callsRecover(lit.Body) {
			return true
		}
	}
	return false
}

func callsRecover(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "recover" {
				found = true
			}
		}
		return !found
	})
	return found
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.FuncLit:
		return "func(){...}"
	}
	return fmt.Sprintf("%T", e)
}

// SecretCompares type-checks the package in dir (import path pkgPath) and lists comparisons
// that are not constant time: calls of bytes.Equal, bytes.Compare, bytes.HasPrefix and
// strings.EqualFold-like helpers on bytes, and == or != whose operands are byte arrays, byte
// slices (via conversion) or strings converted from bytes. A line carrying "audit:ok" in a
// comment is accepted (the comment gives the reason).
func SecretCompares(dir, pkgPath string) ([]Finding, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, n); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return secretCompares(fset, files, pkgPath)
}

// SecretComparesSnippet is SecretCompares over one file's source that imports only the
// standard library.
func SecretComparesSnippet(code string) ([]Finding, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", code, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	return secretCompares(fset, []*ast.File{f}, "snippet")
}

func secretCompares(fset *token.FileSet, files []*ast.File, pkgPath string) ([]Finding, error) {
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check(pkgPath, fset, files, info); err != nil {
		return nil, err
	}
	var out []Finding
	for _, f := range files {
		okLines := map[int]bool{}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.Contains(c.Text, "audit:ok") {
					okLines[fset.Position(c.Pos()).Line] = true
				}
			}
		}
		add := func(n ast.Node, what string) {
			p := fset.Position(n.Pos())
			if !okLines[p.Line] {
				out = append(out, Finding{Pos: p, Func: funcAt(f, n.Pos()), What: what})
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				se, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := se.X.(*ast.Ident); ok {
					if pn, ok := info.Uses[id].(*types.PkgName); ok && pn.Imported().Path() == "bytes" {
						switch se.Sel.Name {
						case "Equal", "Compare", "HasPrefix", "HasSuffix", "EqualFold":
							add(n, "bytes."+se.Sel.Name+" is not constant time")
						}
					}
				}
			case *ast.BinaryExpr:
				if n.Op != token.EQL && n.Op != token.NEQ {
					return true
				}
				if isZeroLiteral(n.X) || isZeroLiteral(n.Y) {
					return true // a check for an absent value: the timing is of the caller's own input
				}
				for _, side := range []ast.Expr{n.X, n.Y} {
					if isBytesLike(info, side) {
						add(n, n.Op.String()+" on "+info.Types[side].Type.String()+" is not constant time")
						break
					}
				}
			}
			return true
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pos.Offset < out[j].Pos.Offset })
	return out, nil
}

// isZeroLiteral reports whether e is an empty composite literal such as Hash{} or [32]byte{}.
func isZeroLiteral(e ast.Expr) bool {
	cl, ok := ast.Unparen(e).(*ast.CompositeLit)
	return ok && len(cl.Elts) == 0
}

// isBytesLike reports whether e is a byte array, or a string converted from bytes.
func isBytesLike(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	if !ok {
		return false
	}
	if arr, ok := tv.Type.Underlying().(*types.Array); ok {
		if b, ok := arr.Elem().Underlying().(*types.Basic); ok && b.Kind() == types.Byte {
			return true
		}
	}
	// string(b) where b is []byte or a byte array
	if c, ok := ast.Unparen(e).(*ast.CallExpr); ok && len(c.Args) == 1 {
		if ctv, ok := info.Types[c.Fun]; ok && ctv.IsType() {
			if b, ok := ctv.Type.Underlying().(*types.Basic); ok && b.Info()&types.IsString != 0 {
				at := info.Types[c.Args[0]].Type
				if at != nil {
					switch u := at.Underlying().(type) {
					case *types.Slice:
						if eb, ok := u.Elem().Underlying().(*types.Basic); ok && eb.Kind() == types.Byte {
							return true
						}
					case *types.Array:
						return true
					}
				}
			}
		}
	}
	return false
}

// Requirement is a module and the lowest version go.mod may require.
type Requirement struct{ Path, Min string }

// GoModBelow lists the requirements go.mod (its text) does not meet: absent, or at a lower
// version.
func GoModBelow(gomod string, reqs []Requirement) []string {
	have := map[string]string{}
	inBlock := false
	for _, line := range strings.Split(gomod, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			have[f[0]] = f[1]
		}
	}
	var out []string
	for _, r := range reqs {
		v, ok := have[r.Path]
		switch {
		case !ok:
			out = append(out, r.Path+" is not required")
		case compareSemver(v, r.Min) < 0:
			out = append(out, fmt.Sprintf("%s %s is below %s", r.Path, v, r.Min))
		}
	}
	return out
}

// compareSemver compares vMAJOR.MINOR.PATCH versions (pre-release suffixes sort before).
func compareSemver(a, b string) int {
	pa, pb := semverParts(a), semverParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func semverParts(v string) [4]int {
	v = strings.TrimPrefix(v, "v")
	core, pre, hasPre := strings.Cut(v, "-")
	_ = pre
	var out [4]int
	for i, p := range strings.SplitN(core, ".", 3) {
		n, _ := strconv.Atoi(p)
		out[i] = n
	}
	if !hasPre {
		out[3] = 1 // a release sorts after its pre-releases
	}
	return out
}

// FuzzTargets returns the names of the Fuzz functions declared in the _test.go files of dir.
func FuzzTargets(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Fuzz") {
				out = append(out, fd.Name.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
