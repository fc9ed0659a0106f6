#!/usr/bin/env python3
"""Transcribes the test tables of an upstream Go repository's *_test.go files into JSON.

Usage: scripts/upstream_tables.py GIT_DIR COMMIT REPOSITORY OUT.json FILE_test.go...

Every composite literal assigned or ranged over in a `func Test…` body (`tests := []struct{…}{…}`,
`for _, tc := range []struct{…}{…}`, `p := specs.Platform{…}`) becomes JSON, keyed by test
function and variable name (`range` for a ranged-over literal). Keyed elements become objects,
unkeyed ones arrays. What is not a constant stays symbolic, for the Rust test to evaluate:
{"$ident": "defaultOS"}, {"$call": "path.Join", "args": […]}, {"$concat": […]}.
The test logic itself (what each table is checked for) is re-stated in tests/upstream_*.rs.
"""
import ast, json, re, subprocess, sys

TOK = re.compile(r'''
 (?P<ws>\s+) | (?P<lc>//[^\n]*) | (?P<bc>/\*.*?\*/) |
 (?P<str>"(?:\\.|[^"\\\n])*") | (?P<raw>`[^`]*`) | (?P<chr>'(?:\\.|[^'\\])+') |
 (?P<num>\d[\w.]*) | (?P<id>[A-Za-z_]\w*) |
 (?P<op>:=|\.\.\.|&&|\|\||==|!=|<=|>=|\+\+|--|[{}()\[\],:;.+\-*/&|!<>=%])
''', re.S | re.X)

def lex(src):
    out = []
    for m in TOK.finditer(src):
        k = m.lastgroup
        if k in ('ws', 'lc', 'bc'):
            continue
        out.append((k, m.group(), m.start()))
    return out

class P:
    def __init__(self, src):
        self.src = src; self.t = lex(src); self.i = 0
    def peek(self, o=0):
        j = self.i + o
        return self.t[j] if j < len(self.t) else ('eof', '', len(self.src))
    def next(self):
        t = self.peek(); self.i += 1; return t
    def expect(self, v):
        t = self.next()
        assert t[1] == v, (v, t, self.src[t[2]-80:t[2]+40])
    def skip_balanced(self, open_, close):
        self.expect(open_); d = 1
        while d:
            t = self.next()
            if t[1] == open_: d += 1
            elif t[1] == close: d -= 1
    def typ(self):
        t = self.peek()
        if t[1] == '[':
            self.next()
            if self.peek()[1] != ']':
                while self.peek()[1] != ']': self.next()
            self.expect(']'); return '[]' + self.typ()
        if t[1] == 'map':
            self.next(); self.expect('['); k = self.typ(); self.expect(']'); return 'map[%s]%s' % (k, self.typ())
        if t[1] == 'struct':
            self.next(); self.skip_balanced('{', '}'); return 'struct'
        if t[1] == '*':
            self.next(); return '*' + self.typ()
        name = self.next()[1]
        while self.peek()[1] == '.':
            self.next(); name += '.' + self.next()[1]
        return name
    def value(self):
        parts = [self.operand()]
        while self.peek()[1] == '+':
            self.next(); parts.append(self.operand())
        if len(parts) == 1:
            return parts[0]
        if all(isinstance(p, str) for p in parts):
            return ''.join(parts)
        return {'$concat': parts}
    def operand(self):
        k, v, pos = self.peek()
        if k == 'str':
            self.next(); return ast.literal_eval(v)
        if k == 'raw':
            self.next(); return v[1:-1]
        if k == 'num':
            self.next(); return int(v) if v.isdigit() else v
        if v in ('true', 'false'):
            self.next(); return v == 'true'
        if v == 'nil':
            self.next(); return None
        if v == '{':
            return self.composite(None)
        if v == '-':
            self.next(); o = self.operand(); return -o if isinstance(o, int) else {'$expr': '-' + json.dumps(o)}
        if v in ('[', 'map', 'struct', '*') :
            ty = self.typ(); return self.composite(ty)
        # identifier expression: selectors, calls, maybe a typed composite
        start = pos
        self.next()
        while self.peek()[1] == '.':
            self.next(); self.next()
        if self.peek()[1] == '{':
            return self.composite(self.src[start:self.peek()[2]].strip())
        if self.peek()[1] == '(':
            fn = self.src[start:self.peek()[2]]
            self.next(); args = []
            while self.peek()[1] != ')':
                args.append(self.value())
                if self.peek()[1] == ',': self.next()
            self.expect(')')
            return {'$call': fn, 'args': args}
        return {'$ident': self.src[start:self.t[self.i-1][2]+len(self.t[self.i-1][1])]}
    def composite(self, ty):
        self.expect('{')
        elems = []; keyed = False
        while self.peek()[1] != '}':
            v = self.value()
            if self.peek()[1] == ':':
                self.next(); keyed = True
                key = v['$ident'] if isinstance(v, dict) and '$ident' in v else v
                elems.append((json.dumps(key) if not isinstance(key, str) else key, self.value()))
            else:
                elems.append((None, v))
            if self.peek()[1] == ',': self.next()
        self.expect('}')
        if keyed:
            return {k: v for k, v in elems}
        return [v for _, v in elems]

def functions(src):
    """Test function name -> list of {var, value} for each table literal in its body."""
    out = {}
    for m in re.finditer(r'^func (Test\w*)\(', src, re.M):
        name = m.group(1)
        end = src.find('\n}\n', m.start())
        p = P(src[m.start():end])
        lits = []
        while p.peek()[0] != 'eof':
            v = p.peek()[1]
            if v in (':=', '=', 'range') and p.peek(1)[1] in ('[', 'map'):
                var = 'range' if v == 'range' else p.t[p.i - 1][1]
                p.next()
                ty = p.typ()
                if p.peek()[1] == '{':
                    lits.append({'var': var, 'value': p.composite(ty)})
                continue
            if v in (':=', '=') and p.peek(1)[0] == 'id' and p.peek(2)[1] in ('{', '.'):
                var = p.t[p.i - 1][1]
                save = p.i
                p.next()
                try:
                    val = p.value()
                except (AssertionError, IndexError):
                    p.i = save + 1
                    continue
                # Type assertions and calls are test logic, not tables.
                if isinstance(val, list) or (isinstance(val, dict) and not
                                             ({'$ident', '$call', '$concat'} & set(val))):
                    lits.append({'var': var, 'value': val})
                continue
            p.next()
        if lits:
            out[name] = lits
    return out


def main():
    git_dir, commit, repository, out_path, *files = sys.argv[1:]
    doc = {'repository': repository, 'commit': commit, 'files': {}}
    for f in files:
        src = subprocess.run(['git', '--git-dir', git_dir, 'show', f'{commit}:{f}'],
                             check=True, capture_output=True, text=True).stdout
        doc['files'][f] = functions(src)
    with open(out_path, 'w') as out:
        json.dump(doc, out, indent=1, ensure_ascii=False)
        out.write('\n')


if __name__ == '__main__':
    main()
