// Paramstore console: no framework, no network but this server's
// /console/api (and /readyz). The CSRF token is kept in memory only:
// nothing goes to browser storage.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let csrf = "";
  let params = [];      // DescribeParameters of every parameter
  let shown = null;     // names the filters keep, null = all
  let current = null;   // the open parameter's name
  let currentParam = null;
  let revealedValue = null;

  async function api(path, body) {
    const resp = await fetch("api/" + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Csrf-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error((data.__type || "Error") + ": " + (data.message || data.Message || resp.statusText));
      err.status = resp.status;
      throw err;
    }
    return data;
  }
  const call = (action, input) => api("call", { Action: action, Input: input || {} });

  // pages calls a paged action until its NextToken runs out.
  async function pages(action, input, member) {
    const out = [];
    let token;
    do {
      const page = await call(action, token ? Object.assign({}, input, { NextToken: token }) : input);
      out.push(...(page[member] || []));
      token = page.NextToken;
    } while (token);
    return out;
  }

  const iso = (secs) => secs ? new Date(secs * 1000).toISOString().replace(".000Z", "Z") : "";

  function row(tbody, cells) {
    const tr = tbody.insertRow();
    for (const c of cells) {
      const td = tr.insertCell();
      if (c instanceof Node) td.appendChild(c); else td.textContent = c == null ? "" : String(c);
    }
    return tr;
  }

  function button(text, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }

  // ---- sign-in and screens ----

  const screens = ["browse", "cluster", "incidents", "webhooks", "audit"];
  let screen = "browse";

  function show(signedIn, who) {
    $("signin").hidden = signedIn;
    $("tabs").hidden = !signedIn;
    $("whobox").hidden = !signedIn;
    $("who").textContent = who || "";
    for (const s of screens) $(s).hidden = !signedIn || s !== screen;
  }

  function go(name) {
    screen = name;
    for (const b of document.querySelectorAll("#tabs button")) {
      if (b.dataset.screen === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
    }
    for (const s of screens) $(s).hidden = s !== name;
    ({ browse: loadTree, cluster: loadCluster, incidents: loadIncidents, webhooks: loadWebhooks, audit: () => loadAudit(false) })[name]();
  }
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => go(b.dataset.screen));

  function expired(err) {
    if (err.status === 401) {
      csrf = "";
      show(false);
      $("signin-error").textContent = "Your session ended; sign in again.";
      $("akid").focus();
      return true;
    }
    return false;
  }

  async function start() {
    const resp = await fetch("api/session", { credentials: "same-origin" });
    if (resp.ok) {
      const s = await resp.json();
      csrf = s.CsrfToken;
      show(true, s.AccessKeyId + " · " + s.Region);
      go("browse");
    } else {
      show(false);
      $("akid").focus();
    }
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    try {
      const s = await api("signin", {
        AccessKeyId: $("akid").value.trim(), SecretAccessKey: $("secret").value,
        SessionToken: $("token").value, Region: $("region").value.trim(),
      });
      $("secret").value = ""; $("token").value = "";
      csrf = s.CsrfToken;
      screen = "browse";
      show(true, s.AccessKeyId + " · " + s.Region);
      go("browse");
      $("search").focus();
    } catch (err) {
      $("signin-error").textContent = err.message;
    }
  });

  $("signout").addEventListener("click", async () => {
    try { await api("signout"); } catch (err) { /* the session is gone either way */ }
    csrf = ""; params = []; current = null; currentParam = null; revealedValue = null;
    $("tree").textContent = ""; $("detail-body").hidden = true; $("editor").hidden = true; $("detail-empty").hidden = false;
    show(false);
    $("akid").focus();
  });

  // ---- the tree, its search and filters ----

  function filterInput() {
    const f = [];
    if ($("f-type").value) f.push({ Key: "Type", Values: [$("f-type").value] });
    if ($("f-tier").value) f.push({ Key: "Tier", Values: [$("f-tier").value] });
    const tag = $("f-tag").value.trim();
    if (tag) {
      const i = tag.indexOf("=");
      f.push(i < 0 ? { Key: "tag:" + tag } : { Key: "tag:" + tag.slice(0, i), Values: [tag.slice(i + 1)] });
    }
    return f;
  }

  let treeGen = 0; // only the latest listing may fill the tree
  async function loadTree() {
    const gen = ++treeGen;
    $("tree-error").textContent = "";
    let list = [], labelled = null;
    try {
      const input = { MaxResults: 50 };
      const f = filterInput();
      if (f.length) input.ParameterFilters = f;
      list = await pages("DescribeParameters", input, "Parameters");
      const label = $("f-label").value.trim();
      if (label) {
        // DescribeParameters has no Label filter; GetParametersByPath does.
        const found = await pages("GetParametersByPath", { Path: "/", Recursive: true, WithDecryption: false, MaxResults: 10,
          ParameterFilters: [{ Key: "Label", Option: "Equals", Values: [label] }] }, "Parameters");
        labelled = new Set(found.map((p) => p.Name));
      }
    } catch (err) {
      if (gen !== treeGen) return;
      if (!expired(err)) $("tree-error").textContent = err.message;
      list = [];
    }
    if (gen !== treeGen) return;
    shown = labelled;
    params = list.sort((a, b) => a.Name.localeCompare(b.Name));
    renderTree();
  }
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadTree(); });

  function renderTree() {
    const filter = $("search").value.trim().toLowerCase();
    const root = { children: new Map() };
    for (const p of params) {
      if (filter && !p.Name.toLowerCase().includes(filter)) continue;
      if (shown && !shown.has(p.Name)) continue;
      let node = root;
      const segs = p.Name.replace(/^\//, "").split("/");
      segs.forEach((seg, i) => {
        if (!node.children.has(seg)) node.children.set(seg, { children: new Map() });
        node = node.children.get(seg);
        if (i === segs.length - 1) node.param = p;
      });
    }
    const build = (node) => {
      const ul = document.createElement("ul");
      ul.setAttribute("role", "group");
      for (const [seg, child] of node.children) {
        const li = document.createElement("li");
        if (child.param) {
          const b = button(seg, "", () => openParam(child.param.Name));
          b.title = child.param.Name;
          b.dataset.name = child.param.Name;
          b.setAttribute("role", "treeitem");
          if (current === child.param.Name) b.classList.add("selected");
          li.appendChild(b);
        }
        if (child.children.size) {
          if (!child.param) {
            const s = document.createElement("span");
            s.className = "dir";
            s.textContent = seg + "/";
            li.appendChild(s);
          }
          li.appendChild(build(child));
        }
        ul.appendChild(li);
      }
      return ul;
    };
    $("tree").textContent = "";
    $("tree").appendChild(build(root));
  }
  $("search").addEventListener("input", renderTree);

  // Keyboard: "/" focuses the search; arrow keys walk the tree.
  const treeButtons = () => Array.from(document.querySelectorAll("#tree button"));
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") { const b = treeButtons()[0]; if (b) { ev.preventDefault(); b.focus(); } }
  });
  $("tree").addEventListener("keydown", (ev) => {
    const list = treeButtons();
    const i = list.indexOf(document.activeElement);
    if (i < 0) return;
    if (ev.key === "ArrowDown" && i + 1 < list.length) { ev.preventDefault(); list[i + 1].focus(); }
    if (ev.key === "ArrowUp") { ev.preventDefault(); (i > 0 ? list[i - 1] : $("search")).focus(); }
    if (ev.key === "Home") { ev.preventDefault(); list[0].focus(); }
    if (ev.key === "End") { ev.preventDefault(); list[list.length - 1].focus(); }
  });
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
    if (ev.key === "/" && !typing && !$("browse").hidden) { ev.preventDefault(); $("search").focus(); }
    if (ev.key === "Escape") {
      for (const id of ["confirm", "confirm-delete"]) $(id).hidden = true;
    }
  });

  // ---- one parameter ----

  function fill(p, revealed) {
    $("detail-empty").hidden = true;
    $("editor").hidden = true;
    $("detail-body").hidden = false;
    const d = params.find((x) => x.Name === p.Name) || {};
    currentParam = Object.assign({}, d, p);
    $("d-name").textContent = p.Name;
    $("d-type").textContent = p.Type;
    $("d-tier").textContent = d.Tier || "";
    $("d-datatype").textContent = p.DataType || d.DataType || "";
    $("d-version").textContent = String(p.Version);
    $("d-modified").textContent = iso(p.LastModifiedDate);
    $("d-description").textContent = d.Description || "";
    $("d-policies").textContent = (d.Policies || []).map((x) => x.PolicyType + " (" + x.PolicyStatus + "): " + x.PolicyText).join("\n");
    const secure = p.Type === "SecureString";
    revealedValue = secure && revealed ? p.Value : (secure ? null : p.Value);
    $("value").textContent = secure && !revealed ? "•••••••• (hidden)" : p.Value;
    $("reveal").hidden = !secure || revealed;
    $("label-version").value = String(p.Version);
  }

  async function loadTags(name) {
    const body = $("tags").tBodies[0];
    const out = await call("ListTagsForResource", { ResourceType: "Parameter", ResourceId: name });
    body.textContent = "";
    for (const t of out.TagList || []) {
      const tr = row(body, [t.Key, t.Value, button("Remove", "tag-remove", async () => {
        await act(() => call("RemoveTagsFromResource", { ResourceType: "Parameter", ResourceId: name, TagKeys: [t.Key] }),
          "Removed tag " + t.Key + " from " + name + ".");
      })]);
      tr.dataset.key = t.Key;
    }
  }

  // act runs a change, then shows the parameter again with notice.
  async function act(fn, notice) {
    $("detail-error").textContent = "";
    $("notice").textContent = "";
    const name = current;
    try {
      const out = await fn();
      await loadTree();
      await openParam(name);
      $("notice").textContent = typeof notice === "function" ? notice(out) : notice;
    } catch (err) {
      if (!expired(err)) $("detail-error").textContent = err.message;
    }
  }

  $("tag-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("tag-key").value.trim(), value = $("tag-value").value;
    act(() => call("AddTagsToResource", { ResourceType: "Parameter", ResourceId: current, Tags: [{ Key: key, Value: value }] }),
      "Tagged " + current + " with " + key + ".").then(() => { if (!$("detail-error").textContent) { $("tag-key").value = ""; $("tag-value").value = ""; } });
  });

  $("label-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const label = $("label-name").value.trim(), version = Number($("label-version").value);
    act(async () => {
      const out = await call("LabelParameterVersion", { Name: current, ParameterVersion: version, Labels: [label] });
      if ((out.InvalidLabels || []).length) throw new Error("InvalidLabels: " + out.InvalidLabels.join(", ") + " cannot be a label (letters, digits, . - _, not starting with a digit or aws/ssm).");
      return out;
    }, "Label " + label + " is on version " + version + " of " + current + ".");
  });
  $("label-remove").addEventListener("click", () => {
    const label = $("label-name").value.trim(), version = Number($("label-version").value);
    act(async () => {
      const out = await call("UnlabelParameterVersion", { Name: current, ParameterVersion: version, Labels: [label] });
      if ((out.InvalidLabels || []).length) throw new Error("InvalidLabels: version " + version + " has no label " + out.InvalidLabels.join(", ") + ".");
      return out;
    }, "Removed label " + label + " from version " + version + " of " + current + ".");
  });

  let rollbackTo = 0;
  let historyRows = [];

  // documentOf is a version as the diff compares it: attributes, then the
  // value (a SecureString's stays hidden: the history is read encrypted).
  function documentOf(h) {
    const attr = (k, v) => (k + ": " + (v || "")).trimEnd();
    const lines = [attr("Type", h.Type), attr("DataType", h.DataType), attr("Tier", h.Tier), attr("Description", h.Description),
      attr("AllowedPattern", h.AllowedPattern), attr("Labels", (h.Labels || []).slice().sort().join(", ")),
      attr("Policies", (h.Policies || []).map((p) => p.PolicyText).join(" ")), "Value:"];
    const value = h.Type === "SecureString" ? "(SecureString hidden)" : (h.Value || "");
    return lines.concat(value.split("\n"));
  }

  // diffLines is a line diff of a and b: [kind, line] with kind " ", "-" or "+".
  function diffLines(a, b) {
    const n = a.length, m = b.length;
    const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    const out = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push(["-", a[i]]); i++; }
      else { out.push(["+", b[j]]); j++; }
    }
    return out;
  }

  function checkedVersions() {
    return Array.from(document.querySelectorAll("#history input.pick:checked")).map((c) => Number(c.value)).sort((x, y) => x - y);
  }

  $("compare").addEventListener("click", () => {
    const [v1, v2] = checkedVersions();
    const a = historyRows.find((h) => h.Version === v1), b = historyRows.find((h) => h.Version === v2);
    if (!a || !b) return;
    const pre = $("diff");
    pre.textContent = "";
    pre.appendChild(document.createTextNode("--- " + current + " version " + v1 + "\n+++ " + current + " version " + v2 + "\n"));
    for (const [kind, line] of diffLines(documentOf(a), documentOf(b))) {
      const span = document.createElement("span");
      if (kind === "-") span.className = "del";
      if (kind === "+") span.className = "add";
      span.textContent = kind + line + "\n";
      pre.appendChild(span);
    }
    pre.hidden = false;
  });

  async function loadHistory(name) {
    const rows = await pages("GetParameterHistory", { Name: name, WithDecryption: false, MaxResults: 50 }, "Parameters");
    rows.sort((a, b) => b.Version - a.Version);
    historyRows = rows;
    const body = $("history").tBodies[0];
    body.textContent = "";
    rows.forEach((h, i) => {
      const pick = document.createElement("input");
      pick.type = "checkbox";
      pick.className = "pick";
      pick.value = String(h.Version);
      pick.setAttribute("aria-label", "compare version " + h.Version);
      pick.checked = i < 2;
      pick.addEventListener("change", () => { $("compare").disabled = checkedVersions().length !== 2; });
      const rb = i === 0 ? "" : button("Roll back to this", "rollback", () => {
        rollbackTo = h.Version;
        $("confirm-text").textContent = "Write version " + h.Version + "'s value as a new version of " + name + "? Labels stay where they are.";
        $("confirm").hidden = false;
        $("confirm-no").focus();
      });
      const tr = row(body, [pick, String(h.Version), iso(h.LastModifiedDate), h.LastModifiedUser || "", (h.Labels || []).join(", "), rb]);
      tr.dataset.version = String(h.Version);
    });
  }

  $("confirm-no").addEventListener("click", () => { $("confirm").hidden = true; rollbackTo = 0; });
  $("confirm-yes").addEventListener("click", async () => {
    $("confirm").hidden = true;
    const name = current, to = rollbackTo;
    await act(async () => {
      // The value of a SecureString is read decrypted to be written back
      // (an audited read); it is not shown.
      let target, token;
      do {
        const input = { Name: name, WithDecryption: true, MaxResults: 50 };
        if (token) input.NextToken = token;
        const page = await call("GetParameterHistory", input);
        target = (page.Parameters || []).find((h) => h.Version === to) || target;
        token = page.NextToken;
      } while (token && !target);
      if (!target) throw new Error("ParameterVersionNotFound: version " + to + " of " + name + " is gone.");
      const input = { Name: name, Value: target.Value, Type: target.Type, Overwrite: true };
      if (target.Description) input.Description = target.Description;
      return call("PutParameter", input);
    }, (out) => "Rolled back " + name + " to version " + to + "'s value as version " + out.Version + ".");
  });

  $("delete").addEventListener("click", () => {
    $("confirm-delete-text").textContent = "Delete " + current + " and all its versions? This cannot be undone.";
    $("confirm-delete").hidden = false;
    $("confirm-delete-no").focus();
  });
  $("confirm-delete-no").addEventListener("click", () => { $("confirm-delete").hidden = true; });
  $("confirm-delete-yes").addEventListener("click", async () => {
    $("confirm-delete").hidden = true;
    $("detail-error").textContent = "";
    const name = current;
    try {
      await call("DeleteParameter", { Name: name });
      current = null; currentParam = null;
      $("detail-body").hidden = true; $("detail-empty").hidden = false;
      await loadTree();
      $("notice").textContent = "Deleted " + name + ".";
      $("search").focus();
    } catch (err) {
      if (!expired(err)) $("detail-error").textContent = err.message;
    }
  });

  async function openParam(name) {
    current = name;
    $("detail-error").textContent = "";
    $("notice").textContent = "";
    $("confirm").hidden = true;
    $("confirm-delete").hidden = true;
    for (const b of document.querySelectorAll("#tree button")) b.classList.toggle("selected", b.dataset.name === name);
    try {
      const out = await call("GetParameter", { Name: name, WithDecryption: false });
      fill(out.Parameter, false);
    } catch (err) {
      if (!expired(err)) { $("detail-body").hidden = true; $("detail-empty").hidden = true; $("detail-error").textContent = err.message; }
      return;
    }
    $("history-error").textContent = "";
    $("diff").hidden = true;
    try {
      await loadHistory(name);
      $("compare").disabled = checkedVersions().length !== 2;
    } catch (err) {
      historyRows = [];
      $("history").tBodies[0].textContent = "";
      if (!expired(err)) $("history-error").textContent = err.message;
    }
    try {
      await loadTags(name);
    } catch (err) {
      $("tags").tBodies[0].textContent = "";
      if (!expired(err)) $("history-error").textContent = err.message;
    }
  }

  $("reveal").addEventListener("click", async () => {
    $("detail-error").textContent = "";
    try {
      const out = await call("GetParameter", { Name: current, WithDecryption: true });
      fill(out.Parameter, true);
    } catch (err) {
      if (!expired(err)) $("detail-error").textContent = err.message;
    }
  });

  // ---- create and edit ----

  let editing = null; // the name being edited, null when creating

  function openEditor(p) {
    editing = p ? p.Name : null;
    $("detail-body").hidden = true;
    $("detail-empty").hidden = true;
    $("detail-error").textContent = "";
    $("notice").textContent = "";
    $("editor-error").textContent = "";
    $("editor").hidden = false;
    $("editor-title").textContent = p ? "Edit " + p.Name : "New parameter";
    $("e-name").value = p ? p.Name : "";
    $("e-name").readOnly = !!p;
    $("e-type").value = p ? p.Type : "String";
    $("e-tier").value = p && p.Tier ? p.Tier : "Standard";
    $("e-datatype").value = p && p.DataType ? p.DataType : "text";
    $("e-description").value = p && p.Description ? p.Description : "";
    $("e-pattern").value = p && p.AllowedPattern ? p.AllowedPattern : "";
    $("e-value").value = p ? (p.Type === "SecureString" ? (revealedValue || "") : p.Value) : "";
    $("e-value").placeholder = p && p.Type === "SecureString" && revealedValue == null ? "hidden: enter the new value (or reveal it first)" : "";
    const pol = p && p.Policies && p.Policies.length ? "[" + p.Policies.map((x) => x.PolicyText).join(",") + "]" : "";
    $("e-policies").value = pol;
    (p ? $("e-value") : $("e-name")).focus();
  }
  $("new-param").addEventListener("click", () => openEditor(null));
  $("edit").addEventListener("click", () => openEditor(currentParam));
  $("e-cancel").addEventListener("click", () => {
    $("editor").hidden = true;
    if (editing) openParam(editing); else $("detail-empty").hidden = false;
  });
  $("editor").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("editor-error").textContent = "";
    const input = { Name: $("e-name").value.trim(), Value: $("e-value").value, Type: $("e-type").value, Tier: $("e-tier").value,
      DataType: $("e-datatype").value };
    if (editing) input.Overwrite = true;
    if ($("e-description").value) input.Description = $("e-description").value;
    if ($("e-pattern").value) input.AllowedPattern = $("e-pattern").value;
    if ($("e-policies").value.trim()) input.Policies = $("e-policies").value.trim();
    try {
      const out = await call("PutParameter", input);
      current = input.Name;
      await loadTree();
      await openParam(input.Name);
      $("notice").textContent = (editing ? "Updated " + input.Name + " to version " : "Created " + input.Name + " version ") + out.Version + ".";
    } catch (err) {
      if (!expired(err)) $("editor-error").textContent = err.message;
    }
  });

  // ---- health ----

  async function loadCluster() {
    $("cluster-error").textContent = "";
    const dl = $("node-status");
    try {
      const resp = await fetch("/readyz", { credentials: "same-origin" });
      const text = await resp.text();
      let st;
      try { st = JSON.parse(text); } catch (e) { st = { ready: text.trim() }; }
      dl.textContent = "";
      const add = (k, v, ok) => {
        const dt = document.createElement("dt"); dt.textContent = k;
        const dd = document.createElement("dd"); dd.textContent = v;
        if (ok !== undefined) dd.className = ok ? "state-ok" : "state-bad";
        dl.append(dt, dd);
      };
      add("Readiness", resp.ok ? "ready (200)" : "not ready (" + resp.status + ")", resp.ok);
      const names = { node_id: "Node", state: "Raft state", leader_id: "Leader", can_write: "Can write", can_read_linearizable: "Linearizable reads",
        can_read_stale: "Stale reads", staleness_seconds: "Staleness (s)", commit_index: "Commit index", applied_index: "Applied index" };
      for (const [k, label] of Object.entries(names)) {
        if (k in st) add(label, String(st[k]), typeof st[k] === "boolean" ? st[k] : undefined);
      }
      if (st.fault) add("Injected fault", JSON.stringify(st.fault), false);
    } catch (err) {
      $("cluster-error").textContent = "readyz: " + err.message;
    }
    const body = $("nodes").tBodies[0];
    try {
      // The members (ListNodes) with each one's own /readyz, read by the server.
      const out = await api("cluster");
      body.textContent = "";
      for (const m of out.Members || []) {
        const st = m.Status || {};
        const ready = document.createElement("span");
        ready.textContent = m.Ready ? "ready" : (m.Error || "not ready");
        ready.className = m.Ready ? "state-ok" : "state-bad";
        const tr = row(body, [m.NodeId, m.RaftAddress, m.ApiAddress || "", m.Suffrage, m.Leader ? "leader" : "", ready, st.state || "",
          st.commit_index, st.applied_index, st.staleness_seconds]);
        tr.dataset.node = m.NodeId;
        tr.dataset.ready = String(m.Ready);
      }
    } catch (err) {
      body.textContent = "";
      if (!expired(err)) $("cluster-error").textContent = err.message;
    }
  }

  let incidentList = [];
  async function loadIncidents() {
    $("incidents-error").textContent = "";
    const body = $("incident-list").tBodies[0];
    try {
      const out = await call("ListIncidents");
      incidentList = (out.incidents || []).slice().sort((a, b) => (b.started || "").localeCompare(a.started || ""));
      body.textContent = "";
      for (const inc of incidentList) {
        const open = button(inc.id, "incident-open", () => openIncident(inc));
        const tr = row(body, [open, inc.kind, inc.started, inc.ended || "open", inc.impact.requests, inc.impact.failed, inc.impact.served_stale]);
        tr.dataset.id = inc.id;
      }
      $("incidents-empty").hidden = incidentList.length > 0;
    } catch (err) {
      body.textContent = "";
      if (!expired(err)) $("incidents-error").textContent = err.message;
    }
  }
  async function openIncident(inc) {
    $("incident-detail").hidden = false;
    $("incident-title").textContent = inc.id + " · " + inc.kind + (inc.ended ? "" : " · open");
    const ol = $("incident-timeline");
    ol.textContent = "";
    for (const e of inc.timeline || []) {
      const li = document.createElement("li");
      li.textContent = e.time + " " + e.event;
      ol.appendChild(li);
    }
    $("incident-report").textContent = "";
    try {
      const out = await api("incident-report", { Id: inc.id });
      $("incident-report").textContent = out.Report;
    } catch (err) {
      if (!expired(err)) $("incidents-error").textContent = err.message;
    }
  }

  async function loadWebhooks() {
    $("webhooks-error").textContent = "";
    const body = $("subscriptions").tBodies[0];
    try {
      const out = await call("ListNotifications");
      body.textContent = "";
      for (const s of out.Subscriptions || []) {
        const state = document.createElement("span");
        state.textContent = s.State;
        state.className = s.State === "ok" ? "state-ok" : "state-bad";
        const tr = row(body, [s.Name, s.Url, s.Path || "", state, s.Delivered, s.FailedAttempts, s.DeadLettered, s.Pending,
          s.LagSeconds.toFixed(1) + "s", s.LastError || ""]);
        tr.dataset.name = s.Name;
      }
      $("webhooks-empty").hidden = (out.Subscriptions || []).length > 0;
    } catch (err) {
      body.textContent = "";
      if (!expired(err)) $("webhooks-error").textContent = err.message;
    }
  }

  let auditToken = "";
  let auditGen = 0; // only the latest search may fill the table
  async function loadAudit(more) {
    const gen = ++auditGen;
    $("audit-error").textContent = "";
    const body = $("events").tBodies[0];
    const input = { MaxResults: 50 };
    if ($("a-name").value.trim()) input.Name = $("a-name").value.trim();
    if ($("a-user").value.trim()) input.User = $("a-user").value.trim();
    if ($("a-op").value.trim()) input.EventName = $("a-op").value.trim();
    if (more && auditToken) input.NextToken = auditToken;
    try {
      const out = await call("LookupAuditEvents", input);
      if (gen !== auditGen) return;
      if (!more) body.textContent = "";
      for (const e of out.Events || []) {
        const tr = row(body, [e.EventTime.replace("T", " ").replace(/\.\d+Z$/, "Z"), e.EventName, e.UserName || e.Arn || e.AccessKeyId || "",
          (e.Names || []).join(", "), e.WithDecryption ? "yes" : "", e.SourceIPAddress, e.UserAgent, e.ErrorCode || ""]);
        tr.dataset.event = e.EventName;
      }
      auditToken = out.NextToken || "";
      $("a-more").hidden = !auditToken;
    } catch (err) {
      if (gen !== auditGen) return;
      if (!more) body.textContent = "";
      if (!expired(err)) $("audit-error").textContent = err.message;
    }
  }
  $("audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(false); });
  $("a-more").addEventListener("click", () => loadAudit(true));

  start();
})();
