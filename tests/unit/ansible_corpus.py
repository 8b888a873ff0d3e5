"""Inventories for the Ansible differential tests: each a few files, sources and patterns.

``files`` are written under a temporary directory; ``sources`` are the ``-i`` values
(relative paths, or host lists); ``patterns`` are checked with ``--list-hosts`` semantics;
``limits`` are (pattern, limit) pairs.  ``hardening`` names a documented, deliberate
difference (docs/inventory.md): there hostpool must refuse what Ansible accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str]
    sources: tuple[str, ...] = ("hosts",)
    patterns: tuple[str, ...] = ("all",)
    limits: tuple[tuple[str, str], ...] = ()
    hardening: str = ""
    extra: dict[str, str] = field(default_factory=dict)


BASIC = """
[web]
web1 ansible_host=10.0.0.1
web2 ansible_host=10.0.0.2 ansible_port=2222
web3

[db]
db1 ansible_user=postgres
db2

[prod:children]
web
db

[prod:vars]
env=prod
"""

NESTED = """
top1
[a]
a1
a2
[b]
b1
a1
[c:children]
a
b
[d:children]
c
[d]
d1
"""

CASES: list[Case] = [
    Case(
        "basic",
        {"hosts": BASIC},
        patterns=(
            "all",
            "web",
            "db",
            "prod",
            "web1",
            "web*",
            "~web[12]",
            "~eb",
            "web:db",
            "web:&prod",
            "prod:!db",
            "all:!web1",
            "web[0]",
            "web[-1]",
            "web[1:]",
            "web[0:1]",
            "prod[2:3]",
            "web,,db",
            "web, db",
            "*",
            "ungrouped",
            "db1,web2",
            "w*[1]",
        ),
        limits=(("all", "web"), ("prod", "!db2"), ("web", "web[1:]")),
    ),
    Case(
        "nested-order",
        {"hosts": NESTED},
        patterns=(
            "all",
            "a",
            "b",
            "c",
            "d",
            "c[0]",
            "d[-1]",
            "a:&b",
            "c:!a",
            "~[ab]1",
            "top1",
        ),
    ),
    Case("ungrouped-first", {"hosts": "zeta\n[g]\nalpha\nzeta\nmid\n"}, patterns=("all", "g")),
    Case(
        "host-and-group-same-name",
        {"hosts": "[web]\nweb\nother\n[db]\ndb1\n"},
        patterns=("web", "web:db", "&web", "all:&web", "all:!web"),
    ),
    Case(
        "ini-value-types",
        {
            "hosts": (
                "h1 a=1 b=1.5 c=True d=None e='[1, 2]' f='{\"k\": 3}' g=yes h=007 i=1e3 j=3.10\n"
                "h2 q=\"quoted value\" r='it''s' s=C:\\\\Users\\\\x t=a#b u=\"x # y\"\n"
            )
        },
    ),
    Case(
        "ini-vars-section-raw",
        {
            "hosts": (
                "[g]\nh1\n[g:vars]\n"
                "p  =  \"quoted\"  # not a comment\nw=C:\\Users\\x\nz={{ lookup('env','HOME') }}\n"
                "s=two  spaces\nn=42\nl=[1, 2]\nd={'a': 1}\ne=\nq='single'\nb=False\n"
            )
        },
    ),
    Case(
        "short-forms-are-vars",
        {
            "hosts": (
                "[app]\nw1 host=db.internal port=8080 user=bob key=/k connection=local\n"
                "[app:vars]\nport=8080\nhost=db.internal\n"
            )
        },
    ),
    Case(
        "legacy-connection-vars",
        {
            "hosts": (
                "h1 ansible_host=10.0.0.1 ansible_ssh_host=10.0.0.9\n"
                "h2 ansible_port=22 ansible_ssh_port=2200 ansible_user=a ansible_ssh_user=b\n"
                "h3 ansible_ssh_host=10.0.0.3\n"
                "h4 ansible_private_key_file=/a ansible_ssh_private_key_file=/b\n"
            )
        },
    ),
    Case(
        "group-var-precedence",
        {
            "hosts": (
                "[parent:children]\nchild\n[child]\nh1\n[parent:vars]\nx=parent\ny=parent\n"
                "[child:vars]\nx=child\n[all:vars]\nx=all\ny=all\nz=all\n"
            )
        },
    ),
    Case(
        "group-priority",
        {"hosts": ("[a]\nh1\n[b]\nh1\n[a:vars]\nx=a\nansible_group_priority=10\n[b:vars]\nx=b\n")},
    ),
    Case(
        "group-priority-default-name-order",
        {"hosts": ("[zz]\nh1\n[aa]\nh1\n[zz:vars]\nx=zz\n[aa:vars]\nx=aa\n")},
    ),
    Case("host-var-beats-group", {"hosts": "[g]\nh1 x=host\n[g:vars]\nx=group\n"}),
    Case("repeated-host-lines", {"hosts": "[g]\nh1 a=1\nh1 b=2\n[k]\nh1 a=3\n"}),
    Case(
        "ranges",
        {"hosts": ("[web]\nweb[01:03].example.com\n[db]\ndb-[a:c]\n[odd]\nn[1:9:4]\n")},
        patterns=("all", "web", "db", "odd", "web[1]", "~db-[ab]"),
    ),
    Case("port-in-name", {"hosts": "web1:2222\n[g]\n10.0.0.1:22 ansible_user=root\n"}),
    Case("ipv6", {"hosts": "[v6]\n::1\nfe80::1 ansible_port=22\n[2001:db8::2]:2200\n"}),
    Case(
        "children-before-definition", {"hosts": "[p:children]\nc\n[c]\nh1\n"}, patterns=("p", "c")
    ),
    Case("vars-before-definition", {"hosts": "[c:vars]\nx=1\n[c]\nh1\n"}),
    Case("undefined-child", {"hosts": "[p:children]\nnope\n[x]\nh\n"}),
    Case("vars-for-undefined-group", {"hosts": "[nope:vars]\nx=1\n[g]\nh\n"}),
    Case("unknown-section", {"hosts": "[g:weird]\nh\n"}),
    Case("bad-section-spaces", {"hosts": "[my group]\nh\n"}),
    Case("cycle", {"hosts": "[a:children]\nb\n[b:children]\na\n"}),
    Case(
        "ungrouped-children",
        {"hosts": "[ungrouped:children]\ng\n[g]\nh1\n"},
        patterns=("all", "ungrouped", "g"),
    ),
    Case("all-vars", {"hosts": "h1\nh2\n[all:vars]\nansible_user=deploy\nx=1\n"}),
    Case(
        "comments-and-blank",
        {
            "hosts": (
                "# comment\n; also\n\n[g] # trailing\nh1 # host comment\nh2 a=1 ; not a comment\n"
            )
        },
    ),
    Case(
        "unicode-and-odd-names",
        {
            "hosts": (
                "[g]\nwébserver ansible_host=10.0.0.5\nuser@box ansible_host=10.0.0.6\nprice$1\n"
                "ok-host\n"
            )
        },
        patterns=("g", "w*", "ok-host"),
    ),
    Case(
        "winrm-host-does-not-reject-file",
        {
            "hosts": (
                "[win]\nw1 ansible_connection=winrm\n[linux]\nl1 ansible_host=10.0.0.7\n"
                "[net]\nsw1 ansible_connection=ansible.netcommon.network_cli\n"
            )
        },
        patterns=("all", "linux", "win"),
    ),
    Case(
        "jinja-plain-reference",
        {
            "hosts": (
                "[g]\nh1 ansible_host='{{ real }}' real=10.0.0.8\nh2 ansible_user='{{ who }}'\n"
                "[g:vars]\nwho=deploy\n"
            )
        },
    ),
    Case(
        "jinja-inventory-hostname",
        {"hosts": ("[g]\nh1 ansible_host='{{ inventory_hostname }}.example.com'\n")},
    ),
    Case(
        "jinja-unresolvable-host-only",
        {
            "hosts": (
                "[g]\nh1 ansible_host=\"{{ lookup('env', 'NOPE') | default('10.0.0.1') }}\"\nh2\n"
            )
        },
        patterns=("h2",),
    ),
    Case(
        "yaml-basic",
        {
            "hosts.yml": """
all:
  vars:
    ntp: time.example.com
  hosts:
    solo:
  children:
    web:
      hosts:
        web1:
          ansible_host: 10.0.1.1
        web2:
          ansible_port: 2201
      vars:
        role: frontend
    db:
      hosts:
        db1:
      children:
        replicas:
          hosts:
            db2:
            db3:
"""
        },
        sources=("hosts.yml",),
        patterns=("all", "web", "db", "replicas", "db[1:]", "solo"),
    ),
    Case(
        "yaml-no-extension",
        {
            "hosts": """
web:
  hosts:
    w1:
    w2:
      x: [1, 2]
"""
        },
    ),
    Case(
        "yaml-ranges-and-ports",
        {
            "inv.yaml": """
all:
  children:
    web:
      hosts:
        web[01:03]:
        db.example.com:2222:
"""
        },
        sources=("inv.yaml",),
    ),
    Case(
        "yaml-types",
        {
            "inv.yml": """
g:
  hosts:
    h1:
      flag: yes
      count: 3
      ratio: 1.5
      items: [a, b]
      nested: {k: v}
      text: "007"
      nothing: null
"""
        },
        sources=("inv.yml",),
    ),
    Case(
        "yaml-group-priority",
        {
            "inv.yml": """
a:
  hosts: {h1: }
  vars: {x: a, ansible_group_priority: 5}
b:
  hosts: {h1: }
  vars: {x: b}
"""
        },
        sources=("inv.yml",),
    ),
    Case(
        "yaml-string-sections",
        {
            "inv.yml": """
g:
  hosts: h1
  children: sub
sub:
  hosts: h2
"""
        },
        sources=("inv.yml",),
    ),
    Case("yaml-not-a-mapping", {"inv.yml": "- a\n- b\n"}, sources=("inv.yml",)),
    Case("yaml-empty", {"inv.yml": ""}, sources=("inv.yml",)),
    Case(
        "json-inventory",
        {
            "inv.json": (
                '{"web": {"hosts": {"j1": {"ansible_host": "10.0.2.1"}, "j2": null},'
                ' "vars": {"tier": 1}}}'
            )
        },
        sources=("inv.json",),
    ),
    Case(
        "group-vars-files",
        {
            "hosts": BASIC,
            "group_vars/all.yml": "ntp: time.example.com\nx: all\n",
            "group_vars/web.yml": "x: web\nansible_user: www\n",
            "group_vars/prod": "env: from-file\n",
            "host_vars/web1.yml": "x: web1\nansible_host: 10.9.9.1\n",
            "host_vars/db1.json": '{"ansible_port": 5433}',
        },
    ),
    Case(
        "group-vars-directory",
        {
            "hosts": "[web]\nw1\n",
            "group_vars/web/10-base.yml": "a: 1\nb: 1\n",
            "group_vars/web/20-over.yaml": "b: 2\n",
            "group_vars/web/.hidden.yml": "a: hidden\n",
            "group_vars/web/backup.yml~": "a: backup\n",
            "group_vars/web/notes.txt": "a: text\n",
        },
    ),
    Case(
        "group-vars-first-candidate-wins",
        {
            "hosts": "[web]\nw1\n",
            "group_vars/web": "a: noext\n",
            "group_vars/web.yml": "a: yml\n",
        },
    ),
    Case(
        "group-vars-beat-child-inventory-vars",
        {
            "hosts": "[p:children]\nc\n[c]\nh1\n[c:vars]\nx=child-inventory\n",
            "group_vars/all.yml": "x: all-file\n",
        },
    ),
    Case(
        "host-vars-beat-inventory-host-vars",
        {
            "hosts": "h1 x=inventory\n",
            "host_vars/h1": "x: file\n",
        },
    ),
    Case("empty-vars-file", {"hosts": "[g]\nh1\n", "group_vars/g.yml": ""}),
    Case(
        "inventory-directory",
        {
            "inv/01-web": "[web]\nw1\nw2\n",
            "inv/02-db.yml": "db:\n  hosts:\n    d1:\n",
            "inv/03-glue": "[stack:children]\nweb\ndb\n",
            "inv/README.md": "this is not an inventory\n",
            "inv/old.bak": "[junk]\nj1\n",
            "inv/.hidden": "[junk]\nj2\n",
            "inv/group_vars/web.yml": "x: 1\n",
        },
        sources=("inv",),
        patterns=("all", "stack", "web", "db"),
    ),
    Case(
        "inventory-subdirectory",
        {
            "inv/a/hosts": "[a]\na1\n",
            "inv/b.ini": "[b]\nb1\n",
        },
        sources=("inv",),
        patterns=("all", "a", "b"),
    ),
    Case(
        "several-sources-merge",
        {
            "one": "[web]\nw1 x=1\n",
            "two": "[web]\nw2\n[web:vars]\nx=2\n[db]\nd1\n",
            "group_vars/web.yml": "y: from-file\n",
        },
        sources=("one", "two"),
        patterns=("all", "web", "db"),
    ),
    Case("host-list", {}, sources=("h1,h2:2222,10.0.0.3,",), patterns=("all", "h*")),
    Case("host-list-single", {}, sources=("only,",)),
    Case(
        "limit-file",
        {"hosts": BASIC, "limit.txt": "web1\ndb*\n\n"},
        limits=(("all", "@limit.txt"), ("prod", "@limit.txt")),
    ),
    Case(
        "regex-anchored",
        {"hosts": "[t]\ntesthost\nprodtest\n"},
        patterns=("~test", "~est", "~.*test", "~(prod|test)"),
    ),
    Case(
        "glob-classes",
        {"hosts": "[g]\nweb1\nweb2\nwebx\n"},
        patterns=("web[12]", "web[!1]*", "web?", "w*"),
    ),
    Case(
        "deep-hierarchy",
        {
            "hosts": (
                "[l3]\nh3\n[l2:children]\nl3\n[l2]\nh2\n[l1:children]\nl2\n[l1]\nh1\n"
                "[l1:vars]\nv=1\n[l2:vars]\nv=2\n[l3:vars]\nv=3\n"
            )
        },
        patterns=("all", "l1", "l2", "l1[0]", "l1[-1]", "l1:!l3"),
    ),
    Case(
        "diamond",
        {"hosts": ("[a]\nh\n[b]\nh\n[top:children]\na\nb\n[a:vars]\nx=a\n[b:vars]\nx=b\n")},
    ),
    Case("key-file-expansion", {"hosts": "h1 ansible_ssh_private_key_file=~/.ssh/deploy\n"}),
    Case(
        "local-and-docker",
        {
            "hosts": (
                "me ansible_connection=local\nbox ansible_connection=community.docker.docker\n"
                "p ansible_connection=paramiko\ns ansible_connection=smart\n"
            )
        },
    ),
    Case("trailing-colon", {"hosts": "web1:\n"}),
    Case("yaml-marker-in-ini", {"hosts.ini": "---\n"}, sources=("hosts.ini",)),
    Case("bad-quoting", {"hosts": "h1 a='unterminated\n"}),
    Case("missing-equals", {"hosts": "h1 novalue\n"}),
    Case("vars-missing-equals", {"hosts": "[g]\nh\n[g:vars]\njustaword\n"}),
    Case("bad-range", {"hosts": "web[3:1]\n"}, hardening="a reversed range is an error"),
    Case(
        "dangerous-address",
        {"hosts": "[g]\nevil ansible_host=-oProxyCommand=touch\nfine\n"},
        patterns=("fine",),
    ),
    Case(
        "dangerous-user", {"hosts": "[g]\nevil ansible_user='root;id'\nfine\n"}, patterns=("fine",)
    ),
    Case(
        "plugin-config-yaml",
        {"aws_ec2.yml": "plugin: amazon.aws.aws_ec2\n"},
        sources=("aws_ec2.yml",),
        hardening="inventory plugins are not run",
    ),
]
