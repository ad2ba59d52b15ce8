// piivault compliance console. No framework, no inline script, no eval.
// The bearer token lives in memory and sessionStorage only; personal data
// never enters the page URL (the view is held in memory, not in the hash).
(function () {
  "use strict";
  var TOKEN_KEY = "piivault.token";
  var state = { token: sessionStorage.getItem(TOKEN_KEY) || "", subject: "", auditNext: 0 };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function say(msg) { $("status").textContent = msg; $("alert").textContent = ""; }
  function fail(msg) { $("alert").textContent = msg; $("status").textContent = ""; }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function fmt(t) { return t ? new Date(t).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "—"; }

  // api calls the /v1 API with the bearer token in a header.
  function api(method, path, body, extra) {
    var h = { "Authorization": "Bearer " + state.token, "Accept": "application/json" };
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    var init = { method: method, headers: h, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) { h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      if (r.status === 204) { return null; }
      var ct = r.headers.get("Content-Type") || "";
      if (!r.ok) {
        return (ct.indexOf("json") >= 0 ? r.json() : r.text().then(function (t) { return { title: t }; })).then(function (p) {
          var err = new Error((p.title || "error") + (p.detail ? ": " + p.detail : ""));
          err.status = r.status; throw err;
        });
      }
      return ct.indexOf("json") >= 0 ? r.json() : r.blob();
    });
  }
  function download(path, name, extra) {
    var h = { "Authorization": "Bearer " + state.token };
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return fetch(path, { headers: h, cache: "no-store", credentials: "omit" }).then(function (r) {
      if (!r.ok) { throw new Error("download refused (" + r.status + ")"); }
      return r.blob();
    }).then(function (b) {
      var a = el("a", { href: URL.createObjectURL(b), download: name });
      document.body.appendChild(a); a.click(); a.remove();
      say("Downloaded " + name + ".");
    }).catch(function (e) { fail(e.message); });
  }

  // Views.
  var views = ["signin", "erasures", "subject", "audit", "policy", "health"];
  function show(name) {
    views.forEach(function (v) { $("view-" + v).hidden = v !== name; });
    document.querySelectorAll("nav button[data-view]").forEach(function (b) {
      if (b.getAttribute("data-view") === name) { b.setAttribute("aria-current", "page"); } else { b.removeAttribute("aria-current"); }
    });
    $("nav").hidden = name === "signin";
    $("alert").textContent = "";
    var loaders = { erasures: loadErasures, policy: loadPolicy, health: loadHealth };
    if (loaders[name]) { loaders[name](); }
  }

  // Sign-in.
  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.token = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, state.token);
    say("Signed in.");
    show("erasures");
  });
  $("signout").addEventListener("click", function () {
    state.token = ""; state.subject = ""; sessionStorage.removeItem(TOKEN_KEY);
    clear($("subject-values").tBodies[0]); clear($("subject-events").tBodies[0]); $("subject-panel").hidden = true;
    show("signin"); say("Signed out.");
  });
  document.querySelectorAll("nav button[data-view]").forEach(function (b) {
    b.addEventListener("click", function () { show(b.getAttribute("data-view")); });
  });

  // Erasures.
  function deadline(e) {
    if (e.status === "completed" || e.status === "rejected") { return el("span", { text: "closed" }); }
    if (!e.dueAt) { return el("span", { text: "—" }); }
    var days = Math.ceil((new Date(e.dueAt) - Date.now()) / 86400000);
    if (e.overdue || days < 0) { return el("span", { "class": "overdue", text: "overdue by " + (-days) + " d" }); }
    return el("span", { "class": e.nearDeadline ? "near" : "", text: days + " d left" });
  }
  function rank(e) { return e.overdue ? 0 : e.nearDeadline ? 1 : (e.status === "completed" || e.status === "rejected") ? 3 : 2; }
  function loadErasures() {
    var st = $("erasure-status").value;
    return api("GET", "/v1/erasures" + (st ? "?status=" + encodeURIComponent(st) : "")).then(function (out) {
      var list = (out.erasures || []).slice().sort(function (a, b) {
        return rank(a) - rank(b) || String(a.dueAt || "").localeCompare(String(b.dueAt || ""));
      });
      var tb = $("erasure-table").tBodies[0]; clear(tb);
      list.forEach(function (e) {
        var btn = el("button", { type: "button", "class": "link", text: "Timeline" });
        btn.setAttribute("aria-label", "Timeline of request " + e.erasureId);
        btn.addEventListener("click", function () { openErasure(e.erasureId); });
        tb.appendChild(el("tr", { "data-status": e.status }, [
          el("td", { text: e.erasureId }), el("td", { text: e.subject }),
          el("td", { "class": "status", text: e.status }), el("td", { text: fmt(e.requestedAt) }),
          el("td", { text: fmt(e.dueAt) }), el("td", {}, [deadline(e)]), el("td", {}, [btn])]));
      });
      if (!list.length) { tb.appendChild(el("tr", {}, [el("td", { colspan: "7", text: "No erasure requests." })])); }
    }).catch(function (e) { fail("Erasure requests: " + e.message); });
  }
  function openErasure(id) {
    return api("GET", "/v1/erasures/" + encodeURIComponent(id)).then(function (e) {
      $("erasure-detail").hidden = false;
      $("erasure-detail-h").textContent = "Erasure request " + e.erasureId + ": " + e.status;
      var ol = $("erasure-timeline"); clear(ol);
      var steps = [["requested", e.requestedAt], ["erased", e.erasedAt], ["purged", e.purgedAt], ["completed", e.completedAt]];
      if (e.status === "rejected") { steps = [["requested", e.requestedAt], ["rejected", e.rejectedAt]]; }
      steps.forEach(function (s) {
        var cls = s[0] === "rejected" ? "rejected" : s[1] ? "done" : "todo";
        ol.appendChild(el("li", { "class": cls, text: s[0] + ": " + (s[1] ? fmt(s[1]) : "pending") }));
      });
      $("erasure-rejection").textContent = e.rejection ? "Rejected: " + e.rejection : "";
      var rb = $("receipt-download");
      rb.hidden = !e.receipt;
      // The answer as the server sent it, byte for byte: verify-receipt
      // reads the receipt out of a whole status answer.
      rb.onclick = function () { download("/v1/erasures/" + encodeURIComponent(e.erasureId), "receipt-" + e.erasureId + ".json"); };
      $("erasure-detail-h").focus();
    }).catch(function (err) { fail("Erasure request: " + err.message); });
  }
  $("erasure-detail-h").setAttribute("tabindex", "-1");
  $("erasure-filter").addEventListener("submit", function (ev) { ev.preventDefault(); loadErasures(); });
  $("erasures-refresh").addEventListener("click", loadErasures);

  // Subject.
  function pointer(doc, p) {
    return p.split("/").slice(1).reduce(function (v, k) {
      k = k.replace(/~1/g, "/").replace(/~0/g, "~");
      return v === undefined || v === null ? undefined : v[k];
    }, doc);
  }
  function stateCell(s) { return el("td", {}, [el("span", { "class": "state s-" + s, text: s })]); }
  function show_(v) { return v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v); }
  function openSubject(id) {
    state.subject = id;
    $("subject-panel").hidden = false;
    $("subject-title").textContent = "Subject " + id;
    var purpose = $("read-purpose").value.trim();
    var vt = $("subject-values").tBodies[0], et = $("subject-events").tBodies[0];
    clear(vt); clear(et);
    var p1 = api("GET", "/v1/subjects/" + encodeURIComponent(id) + "/export").then(function (x) {
      $("subject-summary").textContent = x.erased ? "Erased (request " + (x.erasureId || "?") + ")." : (x.values || []).length + " values held.";
      (x.values || []).forEach(function (v) {
        vt.appendChild(el("tr", {}, [el("td", { text: v.class }), el("td", { text: show_(v.value) }), stateCell(v.state || "revealed")]));
      });
    }).catch(function (e) {
      $("subject-summary").textContent = "";
      vt.appendChild(el("tr", {}, [el("td", { colspan: "3", text: "Export refused: " + e.message })]));
    });
    var hdr = purpose ? { "X-Purpose": purpose } : {};
    var p2 = api("GET", "/v1/events?limit=1000", undefined, hdr).then(function (r) {
      (r.events || []).forEach(function (ev) {
        (ev.pii || []).filter(function (f) { return f.subject === id; }).forEach(function (f) {
          et.appendChild(el("tr", {}, [el("td", { text: String(ev.position) }), el("td", { text: ev.stream }), el("td", { text: ev.type }),
            el("td", { text: f.path + " (" + f.class + ")" }), el("td", { text: show_(pointer(ev.data, f.path)) }), stateCell(f.state)]));
        });
      });
      if (!et.rows.length) { et.appendChild(el("tr", {}, [el("td", { colspan: "6", text: "No events of this subject readable for this purpose." })])); }
    }).catch(function (e) {
      et.appendChild(el("tr", {}, [el("td", { colspan: "6", text: "Reading events refused: " + e.message })]));
    });
    var p3 = loadHold();
    return Promise.all([p1, p2, p3]);
  }
  function loadHold() {
    return api("GET", "/v1/subjects/" + encodeURIComponent(state.subject) + "/hold").then(function (h) {
      $("hold-state").textContent = h && h.active ? "Legal hold active: " + h.reason : "No legal hold.";
    }).catch(function (e) { $("hold-state").textContent = e.status === 404 ? "No legal hold." : "Hold: " + e.message; });
  }
  $("subject-find").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var kind = $("find-kind").value, v = $("find-value").value.trim();
    var ul = $("subject-matches"); clear(ul);
    $("subject-panel").hidden = true;
    if (kind === "id") { $("find-value").value = ""; openSubject(v); return; }
    var body = {}; body[kind] = v;
    api("POST", "/v1/subjects/search", body).then(function (r) {
      $("find-value").value = "";
      var subs = r.subjects || [];
      if (!subs.length) { say("No subject found."); return; }
      say(subs.length + " subject(s) found.");
      subs.forEach(function (s) {
        var b = el("button", { type: "button", "class": "link", text: "Open subject " + s });
        b.addEventListener("click", function () { openSubject(s); });
        ul.appendChild(el("li", {}, [b]));
      });
      if (subs.length === 1) { openSubject(subs[0]); }
    }).catch(function (e) { fail("Refused: " + e.message); });
  });
  $("export-json").addEventListener("click", function () {
    download("/v1/subjects/" + encodeURIComponent(state.subject) + "/export?format=json", "export.json");
  });
  $("export-csv").addEventListener("click", function () {
    download("/v1/subjects/" + encodeURIComponent(state.subject) + "/export?format=csv", "export-csv.zip");
  });
  $("erase-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    api("POST", "/v1/subjects/" + encodeURIComponent(state.subject) + "/erasure",
      { reason: $("erase-reason").value, ticket: $("erase-ticket").value }).then(function (e) {
      say("Erasure requested: " + e.erasureId + " (" + e.status + ").");
      show("erasures"); openErasure(e.erasureId);
    }).catch(function (e) {
      if (e.status === 409) { show("erasures"); fail("Erasure rejected: " + e.message); return; }
      fail("Erasure refused: " + e.message);
    });
  });
  $("hold-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    api("PUT", "/v1/subjects/" + encodeURIComponent(state.subject) + "/hold", { reason: $("hold-reason").value })
      .then(function () { say("Legal hold placed."); return loadHold(); })
      .catch(function (e) { fail("Hold refused: " + e.message); });
  });
  $("hold-lift").addEventListener("click", function () {
    api("DELETE", "/v1/subjects/" + encodeURIComponent(state.subject) + "/hold", { reason: $("hold-reason").value || "lifted" })
      .then(function () { say("Legal hold lifted."); return loadHold(); })
      .catch(function (e) { fail("Lifting the hold refused: " + e.message); });
  });

  // Audit.
  function loadAudit(from) {
    var q = [];
    [["subject", "audit-subject"], ["principal", "audit-principal"], ["purpose", "audit-purpose"]].forEach(function (f) {
      var v = $(f[1]).value.trim(); if (v) { q.push(f[0] + "=" + encodeURIComponent(v)); }
    });
    // datetime-local is minute-precise local time; "To" includes its minute.
    var since = $("audit-since").value ? new Date($("audit-since").value) : null;
    var until = $("audit-until").value ? new Date($("audit-until").value) : null;
    if (since && !isNaN(since)) { q.push("since=" + encodeURIComponent(since.toISOString())); }
    if (until && !isNaN(until)) { q.push("until=" + encodeURIComponent(new Date(until.getTime() + 60000).toISOString())); }
    if (from) { q.push("from=" + from); }
    q.push("limit=100");
    api("GET", "/v1/audit?" + q.join("&")).then(function (p) {
      var tb = $("audit-table").tBodies[0]; clear(tb);
      (p.records || []).forEach(function (r) {
        tb.appendChild(el("tr", {}, [el("td", { text: fmt(r.time) }), el("td", { text: r.principal }), el("td", { text: r.action }),
          el("td", { text: r.purpose || "—" }), el("td", { text: r.subject || "—" }), el("td", { text: (r.paths || []).join(", ") }),
          el("td", { text: (r.effect || "") + (r.reason ? " (" + r.reason + ")" : "") })]));
      });
      state.auditNext = p.next || 0;
      $("audit-next").hidden = !p.next;
    }).catch(function (e) { fail("Audit trail: " + e.message); });
  }
  $("audit-filter").addEventListener("submit", function (ev) { ev.preventDefault(); loadAudit(0); });
  $("audit-next").addEventListener("click", function () { loadAudit(state.auditNext); });

  // Policy matrix.
  function loadPolicy() {
    var box = $("policy-matrix"); clear(box);
    api("GET", "/v1/policy/matrix").then(function (m) {
      var tables = (m.purposes || []).map(function (p) { return { purpose: p, action: "read", title: "Reading, purpose: " + (p || "(none)") }; });
      tables.push({ purpose: "", action: "export", title: "Export (access and portability requests)" });
      tables.forEach(function (tb) {
        var purpose = tb.purpose;
        var head = el("tr", {}, [el("th", { scope: "col", text: "Role \\ class" })].concat((m.classes || []).map(function (c) { return el("th", { scope: "col", text: c }); })));
        var rows = (m.roles || []).map(function (role) {
          return el("tr", {}, [el("th", { scope: "row", text: role })].concat((m.classes || []).map(function (c) {
            var cell = (m.cells || []).filter(function (x) { return x.role === role && x.class === c && x.purpose === purpose && x.action === tb.action; })[0];
            var eff = cell ? cell.effect : "deny";
            return el("td", { "class": eff === "deny" ? "deny" : "allow", text: eff });
          })));
        });
        box.appendChild(el("table", {}, [el("caption", { text: tb.title }), el("thead", {}, [head]), el("tbody", {}, rows)]));
      });
    }).catch(function (e) { box.appendChild(el("p", { text: "Policy matrix: " + e.message })); });
  }

  // Health.
  function item(dl, k, v) { dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", { text: v })); }
  function loadHealth() {
    var dl = $("health-list"); clear(dl);
    var get = function (p) { return api("GET", p).then(function (x) { return { ok: true, v: x }; }, function (e) { return { ok: false, e: e }; }); };
    return Promise.all([get("/readyz"), get("/v1/log/verify"), get("/v1/erasures?status=erased"), get("/v1/policy/matrix"), get("/v1/admin/keys")]).then(function (r) {
      item(dl, "Ready", r[0].ok ? "yes" : "no: " + r[0].e.message);
      item(dl, "Hash chain", r[1].ok ? (r[1].v.ok ? "verified up to position " + r[1].v.headPosition : "BROKEN at " + r[1].v.breakAt + ": " + r[1].v.reason) : "not checked: " + r[1].e.message);
      item(dl, "Erasures awaiting purge", r[2].ok ? String((r[2].v.erasures || []).length) : "unknown: " + r[2].e.message);
      item(dl, "Vault backend", $("server-info").getAttribute("data-vault-backend") || "not reported");
      item(dl, "Key version", r[4].ok ? "KEK version " + r[4].v.kekVersion : (r[4].e.status === 501 ? "not reported by this vault backend" : "unknown: " + r[4].e.message));
      item(dl, "Policy revision", r[3].ok ? (r[3].v.revision || "—") : "unknown: " + r[3].e.message);
    });
  }
  $("health-refresh").addEventListener("click", loadHealth);

  show(state.token ? "erasures" : "signin");
})();
