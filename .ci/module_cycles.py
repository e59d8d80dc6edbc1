#!/usr/bin/env python3
# No module of audit-core may depend, through `crate::` paths, on a module that depends back on
# it (#13: data flows one way: capture, entry, pipeline, sink). Doc comments and tests are not
# dependencies. Prints the graph; exits 1 on a cycle.
import os, re, sys
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'audit-core', 'src'))
mods={}
for root,dirs,files in os.walk('.'):
    for f in files:
        if not f.endswith('.rs'): continue
        path=os.path.join(root,f)[2:]
        top=path.split('/')[0].replace('.rs','')
        if top=='lib' or path.endswith('tests.rs'): continue
        text=open(path).read()
        text=re.split(r'#\[cfg\(test\)\]\s*\n(pub(\(super\))? )?mod tests \{',text)[0]
        lines=[l for l in text.split('\n') if not l.strip().startswith(('///','//!','//'))]
        for m in re.findall(r'crate::([a-z_]+)','\n'.join(lines)):
            if m!=top: mods.setdefault(top,set()).add(m)
for k in sorted(mods): print(k,'->',sorted(mods[k]))
found=set()
def dfs(n,stack):
    for m in mods.get(n,()):
        if m in stack:
            c=stack[stack.index(m):]
            k=tuple(sorted(c))
            if k not in found: found.add(k); print('CYCLE',c+[m])
        else: dfs(m,stack+[m])
for n in list(mods): dfs(n,[n])
print('cycles:', len(found))
sys.exit(1 if found else 0)
