// Paramstore console: no framework, no network but this server's
// /console/api. The CSRF token is kept in memory only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let csrf = "";
  let params = [];
  let current = null;

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
  const call = (action, input) => api("call", { Action: action, Input: input });

  function show(signedIn, who) {
    $("signin").hidden = signedIn;
    $("browse").hidden = !signedIn;
    $("whobox").hidden = !signedIn;
    $("who").textContent = who || "";
  }

  function expired(err) {
    if (err.status === 401) { csrf = ""; show(false); $("signin-error").textContent = "Your session ended; sign in again."; return true; }
    return false;
  }

  async function start() {
    const resp = await fetch("api/session", { credentials: "same-origin" });
    if (resp.ok) {
      const s = await resp.json();
      csrf = s.CsrfToken;
      show(true, s.AccessKeyId + " · " + s.Region);
      loadTree();
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
      show(true, s.AccessKeyId + " · " + s.Region);
      loadTree();
    } catch (err) {
      $("signin-error").textContent = err.message;
    }
  });

  $("signout").addEventListener("click", async () => {
    try { await api("signout"); } catch (err) { /* the session is gone either way */ }
    csrf = ""; params = []; current = null;
    $("tree").textContent = ""; $("detail-body").hidden = true; $("detail-empty").hidden = false;
    show(false);
    $("akid").focus();
  });

  async function loadTree() {
    $("tree-error").textContent = "";
    params = [];
    try {
      let token;
      do {
        const input = { MaxResults: 50 };
        if (token) input.NextToken = token;
        const page = await call("DescribeParameters", input);
        params.push(...(page.Parameters || []));
        token = page.NextToken;
      } while (token);
    } catch (err) {
      if (!expired(err)) $("tree-error").textContent = err.message;
    }
    params.sort((a, b) => a.Name.localeCompare(b.Name));
    renderTree();
  }

  function renderTree() {
    const filter = $("search").value.trim().toLowerCase();
    const root = { children: new Map() };
    for (const p of params) {
      if (filter && !p.Name.toLowerCase().includes(filter)) continue;
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
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = seg;
          b.title = child.param.Name;
          b.dataset.name = child.param.Name;
          if (current === child.param.Name) b.classList.add("selected");
          b.addEventListener("click", () => openParam(child.param.Name));
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

  function fill(p, revealed) {
    $("detail-empty").hidden = true;
    $("detail-body").hidden = false;
    $("d-name").textContent = p.Name;
    $("d-type").textContent = p.Type;
    $("d-version").textContent = String(p.Version);
    $("d-modified").textContent = p.LastModifiedDate ? new Date(p.LastModifiedDate * 1000).toISOString() : "";
    const secure = p.Type === "SecureString";
    $("value").textContent = secure && !revealed ? "•••••••• (hidden)" : p.Value;
    $("reveal").hidden = !secure || revealed;
  }

  let rollbackTo = 0;
  let historyRows = [];

  // document is a version as the diff compares it: attributes, then the
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
    const rows = [];
    let token;
    do {
      const input = { Name: name, WithDecryption: false, MaxResults: 50 };
      if (token) input.NextToken = token;
      const page = await call("GetParameterHistory", input);
      rows.push(...(page.Parameters || []));
      token = page.NextToken;
    } while (token);
    rows.sort((a, b) => b.Version - a.Version);
    historyRows = rows;
    const body = $("history").tBodies[0];
    body.textContent = "";
    rows.forEach((h, i) => {
      const tr = body.insertRow();
      tr.dataset.version = String(h.Version);
      const pick = document.createElement("input");
      pick.type = "checkbox";
      pick.className = "pick";
      pick.value = String(h.Version);
      pick.setAttribute("aria-label", "compare version " + h.Version);
      pick.checked = i < 2;
      pick.addEventListener("change", () => { $("compare").disabled = checkedVersions().length !== 2; });
      tr.insertCell().appendChild(pick);
      for (const v of [String(h.Version), h.LastModifiedDate ? new Date(h.LastModifiedDate * 1000).toISOString() : "",
        h.LastModifiedUser || "", (h.Labels || []).join(", ")]) {
        tr.insertCell().textContent = v;
      }
      const cell = tr.insertCell();
      if (i > 0) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "rollback";
        b.textContent = "Roll back to this";
        b.addEventListener("click", () => {
          rollbackTo = h.Version;
          $("confirm-text").textContent = "Write version " + h.Version + "'s value as a new version of " + name + "? Labels stay where they are.";
          $("confirm").hidden = false;
          $("confirm-no").focus();
        });
        cell.appendChild(b);
      }
    });
  }

  $("confirm-no").addEventListener("click", () => { $("confirm").hidden = true; rollbackTo = 0; });
  $("confirm-yes").addEventListener("click", async () => {
    $("confirm").hidden = true;
    $("detail-error").textContent = "";
    const name = current, to = rollbackTo;
    try {
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
      const out = await call("PutParameter", input);
      await openParam(name);
      $("notice").textContent = "Rolled back " + name + " to version " + to + "'s value as version " + out.Version + ".";
    } catch (err) {
      if (!expired(err)) $("detail-error").textContent = err.message;
    }
  });

  async function openParam(name) {
    current = name;
    $("detail-error").textContent = "";
    $("notice").textContent = "";
    $("confirm").hidden = true;
    for (const b of document.querySelectorAll("#tree button")) b.classList.toggle("selected", b.dataset.name === name);
    try {
      const out = await call("GetParameter", { Name: name, WithDecryption: false });
      fill(out.Parameter, false);
    } catch (err) {
      if (!expired(err)) { $("detail-body").hidden = true; $("detail-error").textContent = err.message; }
      return;
    }
    $("history-error").textContent = "";
    $("history").tBodies[0].textContent = "";
    $("diff").hidden = true;
    historyRows = [];
    try {
      await loadHistory(name);
      $("compare").disabled = checkedVersions().length !== 2;
    } catch (err) {
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

  start();
})();
