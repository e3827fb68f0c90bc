#!/usr/bin/env python3
"""Generates a playbook tree for the syntax-check benchmark and its test.

    bench/gen_tree.py OUT_DIR [--roles 50] [--tasks 20] [--plant-error module|keyword]

OUT_DIR receives site.yml, inventory.ini and roles/role_NN/ with tasks,
defaults, handlers and templates. Tasks use only ansible.builtin modules and
mix `when`, loops, tags, templated arguments, `register` and `notify`.

With --plant-error, the last task of the last role gets an unknown module
(`module`) or an unknown task keyword (`keyword`), and the script prints
`planted: <path relative to OUT_DIR>:<line of the task>` on stdout.
The output is the same on every run (no randomness), so timings compare.
"""

import argparse
import os
import sys

# One entry per task shape; {r} is the role number, {t} the task number.
TASK_SHAPES = [
    """- name: "Show the settings of {{{{ role_{r}_name }}}} ({t})"
  ansible.builtin.debug:
    msg: "{{{{ role_{r}_name }}}} listens on {{{{ role_{r}_port }}}}"
  tags: [debug, role_{r}]
""",
    """- name: Install packages for role {r} ({t})
  ansible.builtin.apt:
    name: "{{{{ item }}}}"
    state: present
  loop: "{{{{ role_{r}_packages }}}}"
  when: ansible_facts['os_family'] | default('Debian') == 'Debian'
  tags: [packages]
""",
    """- name: Create the directory of role {r} ({t})
  ansible.builtin.file:
    path: "/srv/role_{r}/{{{{ item }}}}"
    state: directory
    mode: "0755"
  loop:
    - conf
    - data
    - logs
""",
    """- name: Write the configuration of role {r} ({t})
  ansible.builtin.template:
    src: config.j2
    dest: "/srv/role_{r}/conf/app.conf"
    mode: "0644"
  notify: Restart role {r}
  tags: [config]
""",
    """- name: Copy a static file for role {r} ({t})
  ansible.builtin.copy:
    content: "role {r} task {t}\\n"
    dest: "/srv/role_{r}/data/static-{t}.txt"
    mode: "0640"
  when: role_{r}_enabled | bool
""",
    """- name: Check the service of role {r} ({t})
  ansible.builtin.command: /bin/true
  register: role_{r}_check_{t}
  changed_when: false
  failed_when: role_{r}_check_{t}.rc not in [0, 1]
""",
    """- name: Set a fact in role {r} ({t})
  ansible.builtin.set_fact:
    role_{r}_url: "http://{{{{ inventory_hostname }}}}:{{{{ role_{r}_port }}}}/"
""",
    """- name: Ensure a line in the config of role {r} ({t})
  ansible.builtin.lineinfile:
    path: "/srv/role_{r}/conf/extra.conf"
    regexp: "^port="
    line: "port={{{{ role_{r}_port }}}}"
    create: true
    mode: "0644"
  notify: Restart role {r}
""",
    """- name: Create the users of role {r} ({t})
  ansible.builtin.user:
    name: "{{{{ item.name }}}}"
    shell: "{{{{ item.shell | default('/bin/sh') }}}}"
  loop: "{{{{ role_{r}_users }}}}"
  loop_control:
    label: "{{{{ item.name }}}}"
  tags: [users]
""",
    """- name: Assert the port of role {r} is sane ({t})
  ansible.builtin.assert:
    that:
      - role_{r}_port | int > 1024
      - role_{r}_port | int < 65536
    fail_msg: "bad port {{{{ role_{r}_port }}}}"
""",
    """- name: Stat the data of role {r} ({t})
  ansible.builtin.stat:
    path: "/srv/role_{r}/data"
  register: role_{r}_stat_{t}
""",
    """- name: Run a shell pipeline in role {r} ({t})
  ansible.builtin.shell: "set -e; echo {{{{ role_{r}_name | quote }}}} | wc -c"
  args:
    executable: /bin/sh
  changed_when: false
  when:
    - role_{r}_enabled | bool
    - inventory_hostname in groups['all']
""",
    """- name: Schedule a job for role {r} ({t})
  ansible.builtin.cron:
    name: "role {r} job {t}"
    minute: "{{{{ {t} % 60 }}}}"
    job: "/usr/bin/true"
  tags: [cron, never]
""",
    """- name: Replace a value in role {r} ({t})
  ansible.builtin.replace:
    path: "/srv/role_{r}/conf/app.conf"
    regexp: "debug=true"
    replace: "debug=false"
  when: not (role_{r}_debug | bool)
""",
    """- name: Manage the group of role {r} ({t})
  ansible.builtin.group:
    name: "role{r}"
    state: present
  become: true
""",
    """- name: Keep the service of role {r} running ({t})
  ansible.builtin.service:
    name: "role{r}"
    state: started
    enabled: true
  ignore_errors: true
  tags: [always]
""",
    """- name: Add a block to the config of role {r} ({t})
  ansible.builtin.blockinfile:
    path: "/srv/role_{r}/conf/app.conf"
    block: |
      name={{{{ role_{r}_name }}}}
      port={{{{ role_{r}_port }}}}
    marker: "# {{mark}} role {r}"
""",
    """- name: Wait for the port of role {r} ({t})
  ansible.builtin.wait_for:
    port: "{{{{ role_{r}_port | int }}}}"
    timeout: 1
  when: role_{r}_wait | default(false)
""",
    """- name: Dictionary loop in role {r} ({t})
  ansible.builtin.debug:
    msg: "{{{{ item.key }}}}={{{{ item.value }}}}"
  loop: "{{{{ role_{r}_settings | dict2items }}}}"
""",
    """- name: Package facts for role {r} ({t})
  ansible.builtin.package:
    name: curl
    state: present
  check_mode: true
""",
]

ERRORS = {
    # An unknown module: a misspelling of ansible.builtin.debug.
    "module": """- name: The planted error
  ansible.builtin.debgu:
    msg: this module does not exist
""",
    # An unknown task keyword next to a valid module.
    "keyword": """- name: The planted error
  ansible.builtin.debug:
    msg: this keyword does not exist
  whenn: true
""",
}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def role_tasks(r, tasks, plant):
    """The text of tasks/main.yml and the line where the last task starts."""
    text = "---\n"
    last_line = 0
    for t in range(tasks):
        if plant and t == tasks - 1:
            body = ERRORS[plant]
        else:
            body = TASK_SHAPES[(t + r) % len(TASK_SHAPES)].format(r=r, t=t)
        if t:
            text += "\n"
        last_line = text.count("\n") + 1
        text += body
    return text, last_line


def generate(out, roles, tasks, plant):
    names = ["role_%02d" % r for r in range(roles)]
    planted = None
    for r, name in enumerate(names):
        base = os.path.join(out, "roles", name)
        write(os.path.join(base, "defaults", "main.yml"), f"""---
role_{r}_name: {name}
role_{r}_port: {8000 + r}
role_{r}_enabled: true
role_{r}_debug: false
role_{r}_packages:
  - curl
  - "tool-{r}"
role_{r}_users:
  - name: svc{r}
  - name: admin{r}
    shell: /bin/bash
role_{r}_settings:
  workers: {r % 8 + 1}
  log_level: info
""")
        write(os.path.join(base, "handlers", "main.yml"), f"""---
- name: Restart role {r}
  ansible.builtin.service:
    name: "role{r}"
    state: restarted
""")
        write(os.path.join(base, "templates", "config.j2"), f"""# Managed by herd
name={{{{ role_{r}_name }}}}
port={{{{ role_{r}_port }}}}
{{% for user in role_{r}_users %}}
user={{{{ user.name }}}}
{{% endfor %}}
""")
        last = r == roles - 1
        text, line = role_tasks(r, tasks, plant if last else None)
        rel = os.path.join("roles", name, "tasks", "main.yml")
        write(os.path.join(out, rel), text)
        if plant and last:
            planted = f"{rel}:{line}"

    roles_yaml = "".join(f"    - {name}\n" for name in names)
    write(os.path.join(out, "site.yml"), f"""---
- name: Syntax-check benchmark ({roles} roles x {tasks} tasks)
  hosts: all
  gather_facts: false
  roles:
{roles_yaml}""")
    write(os.path.join(out, "inventory.ini"), """[app]
app[01:10].example.com

[app:vars]
ansible_connection=local
""")
    return planted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="directory to write the tree into")
    parser.add_argument("--roles", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--plant-error", choices=sorted(ERRORS))
    args = parser.parse_args()
    if args.roles < 1 or args.tasks < 1:
        parser.error("--roles and --tasks must be at least 1")
    planted = generate(args.out, args.roles, args.tasks, args.plant_error)
    if planted:
        print(f"planted: {planted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
