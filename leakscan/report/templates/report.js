// The findings table and cards of the leakscan HTML report: built from the embedded JSON with
// textContent only (scanned content never becomes markup), sorted, filtered, shown a page at a
// time so that reports with many thousands of findings stay fast. Plain JS, no dependencies.
(function () {
  "use strict";
  var PAGE = 200;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var items = data.findings;
  var table = document.getElementById("findings-table");
  if (!table) return;
  var tbody = table.tBodies[0];
  var details = document.getElementById("details");
  var form = document.getElementById("filters");
  var controls = Array.prototype.slice.call(form.querySelectorAll("[data-filter]"));
  var counter = document.getElementById("shown-count");
  var more = document.getElementById("show-more");
  var headers = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-sort]"));
  var byId = {};
  items.forEach(function (item, index) { item.priority = index; byId[item.id] = index; });
  var order = items.map(function (_, index) { return index; });
  var shown = order;
  var limit = PAGE;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return parent;
  }

  function link(item, text) {
    var a = el("a", "", text);
    a.href = "#" + item.id;
    return a;
  }

  function days(item) { return item.days < 0 ? "" : String(Math.round(item.days)); }

  function row(item) {
    var tr = el("tr", item.liveness);
    tr.id = "row-" + item.id;
    add(tr, add(el("td"), link(item, item.priority + 1)), add(el("td"), el("span", "badge " + item.liveness, item.liveness)));
    if (data.repositories) add(tr, el("td", "", item.repository));
    var rule = el("td", "", data.rules[item.rule].key || item.rule);
    rule.title = data.rules[item.rule].name;
    add(tr, rule, add(el("td", "path"), el("code", "", item.path + ":" + item.line)));
    var head = el("td", "", item.head);
    if (item.head !== "yes" && item.refs.length) add(head, el("br"), el("span", "dim reach", "reachable from " + item.refs.join(", ")));
    add(tr, add(el("td"), el("code", "", item.secret)), head);
    if (data.history) add(tr, el("td", "", item.day), el("td", "", item.author), el("td", "num", days(item)));
    return tr;
  }

  function entry(dl, term, dd) { add(dl, el("dt", "", term), dd); }

  function card(item) {
    var rule = data.rules[item.rule];
    var article = el("article", "finding " + item.liveness);
    article.id = item.id;
    add(article, add(el("h3"), link(item, "#" + (item.priority + 1)), " " + rule.name + (rule.key ? " (" + rule.key + ") " : " "),
      el("span", "badge " + item.severity, item.severity), " ", el("span", "badge " + item.liveness, item.liveness)));
    var dl = el("dl");
    article.appendChild(dl);
    entry(dl, "Secret", add(el("dd"), el("code", "secret", item.secret), " ", el("span", "dim", "(redacted)")));
    var where = el("dd");
    if (item.repository) add(where, el("code", "", item.repository), " · ");
    item.origin.forEach(function (part) { add(where, el("code", "", part), " → "); });
    add(where, el("code", "location", item.path + ":" + item.line + ":" + item.column));
    if (item.commit) add(where, el("br"), "commit ", el("code", "commit", item.commit));
    entry(dl, "Where", where);
    if (item.commit || item.introduced_at) {
      var exposure = el("dd", "exposure", "introduced ");
      if (item.introduced_at) add(exposure, el("time", "", item.introduced_at));
      if (item.author) add(exposure, " by ", el("span", "author", item.author), item.email ? " <" + item.email + ">" : "");
      add(exposure, "; ");
      if (item.removed) add(exposure, "removed ", el("time", "", item.removed));
      else if (item.head === "yes") add(exposure, el("strong", "", "still present at HEAD"));
      else if (item.head === "no" && item.refs.length) add(exposure, "not at HEAD, but still reachable");
      else if (item.head === "no") add(exposure, "no longer at HEAD (removal date unknown)");
      else add(exposure, "removal unknown");
      if (item.days >= 0) add(exposure, "; exposed " + days(item) + " day(s)");
      if (item.commits !== null) add(exposure, "; in " + item.commits + " commit(s)");
      if (item.default_branch) add(exposure, el("br"), "present at the default branch tip(s): " + item.default_branch);
      if (item.refs.length) {
        add(exposure, el("br"), "still reachable from: ");
        item.refs.forEach(function (ref, i) { add(exposure, i ? ", " : "", el("code", "", ref)); });
      }
      entry(dl, "Exposure", exposure);
    }
    var v = item.validation;
    entry(dl, "Liveness", el("dd", "", (v.status || item.liveness) + (v.host ? " (" + v.host + ")" : "") +
      (v.reason ? ": " + v.reason : "") + (v.checked_at ? ", checked " + v.checked_at : "")));
    entry(dl, "Why", el("dd", "", rule.message));
    entry(dl, "Fix", el("dd", "remediation", rule.remediation));
    return article;
  }

  function wanted() {
    var values = {};
    controls.forEach(function (control) { values[control.dataset.filter] = control.value.trim(); });
    values.author = (values.author || "").toLowerCase();
    return values;
  }

  function keep(item, want) {
    if (want.repository && item.repository !== want.repository) return false;
    if (want.rule && item.rule !== want.rule) return false;
    if (want.liveness && item.liveness !== want.liveness) return false;
    if (want.head && item.head !== want.head) return false;
    if (want.from && (!item.day || item.day < want.from)) return false;
    if (want.to && (!item.day || item.day > want.to)) return false;
    if (want.author && item.author.toLowerCase().indexOf(want.author) < 0) return false;
    return true;
  }

  function draw() {
    var rows = document.createDocumentFragment();
    var cards = document.createDocumentFragment();
    var count = Math.min(limit, shown.length);
    for (var i = 0; i < count; i++) {
      rows.appendChild(row(items[shown[i]]));
      cards.appendChild(card(items[shown[i]]));
    }
    tbody.replaceChildren(rows);
    details.replaceChildren(cards);
    counter.textContent = shown.length + " of " + items.length + " shown" +
      (count < shown.length ? " (first " + count + " listed)" : "");
    more.hidden = count >= shown.length;
    more.textContent = "Show " + Math.min(PAGE, shown.length - count) + " more";
  }

  function refresh() {
    var want = wanted();
    shown = order.filter(function (index) { return keep(items[index], want); });
    limit = PAGE;
    draw();
  }

  function sortBy(header) {
    var key = header.dataset.sort;
    var current = header.getAttribute("aria-sort");
    var direction = current === "ascending" ? -1 : current === "descending" ? 1 : key === "days" || key === "introduced" ? -1 : 1;
    headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    order = items.map(function (_, index) { return index; });
    order.sort(function (a, b) {
      var x = items[a][key], y = items[b][key];
      if (x < y) return -direction;
      if (x > y) return direction;
      return a - b;
    });
    var want = wanted();
    shown = order.filter(function (index) { return keep(items[index], want); });
    draw();
  }

  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!(id in byId)) return;
    var position = shown.indexOf(byId[id]);
    if (position < 0) {
      controls.forEach(function (control) { control.value = ""; });
      shown = order;
      position = shown.indexOf(byId[id]);
    }
    if (position >= limit) limit = Math.ceil((position + 1) / PAGE) * PAGE;
    draw();
    var target = document.getElementById(id);
    target.classList.add("targeted");
    target.scrollIntoView();
  }

  headers.forEach(function (header) {
    header.querySelector("button").addEventListener("click", function () { sortBy(header); });
  });
  controls.forEach(function (control) {
    control.addEventListener("input", refresh);
    control.addEventListener("change", refresh);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("reset", function () { setTimeout(refresh, 0); });
  more.addEventListener("click", function () { limit += PAGE; draw(); });
  window.addEventListener("hashchange", reveal);
  draw();
  reveal();
})();
