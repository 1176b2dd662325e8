// Sorting, filtering and deep links for the leakscan HTML report. Plain JS, no dependencies.
(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  if (!table) return;
  var items = JSON.parse(document.getElementById("report-data").textContent).findings;
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var cards = items.map(function (item) { return document.getElementById(item.id); });
  var form = document.getElementById("filters");
  var controls = Array.prototype.slice.call(form.querySelectorAll("[data-filter]"));
  var counter = document.getElementById("shown-count");
  var headers = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-sort]"));
  items.forEach(function (item, index) { item.priority = index; });

  function wanted() {
    var values = {};
    controls.forEach(function (control) { values[control.dataset.filter] = control.value.trim(); });
    return values;
  }

  function keep(item, want) {
    if (want.repository && item.repository !== want.repository) return false;
    if (want.rule && item.rule !== want.rule) return false;
    if (want.liveness && item.liveness !== want.liveness) return false;
    if (want.head && item.head !== want.head) return false;
    if (want.from && (!item.day || item.day < want.from)) return false;
    if (want.to && (!item.day || item.day > want.to)) return false;
    if (want.author && item.author.toLowerCase().indexOf(want.author.toLowerCase()) < 0) return false;
    return true;
  }

  function filter() {
    var want = wanted();
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var ok = keep(items[i], want);
      if (rows[i].hidden === ok) rows[i].hidden = !ok;
      if (cards[i].hidden === ok) cards[i].hidden = !ok;
      if (ok) shown++;
    }
    counter.textContent = shown + " of " + items.length + " shown";
  }

  function sortBy(header) {
    var key = header.dataset.sort;
    var direction = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    if (!header.hasAttribute("aria-sort") && (key === "days" || key === "introduced")) direction = -1;
    headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    var order = items.map(function (_, index) { return index; });
    order.sort(function (a, b) {
      var x = items[a][key], y = items[b][key];
      if (x < y) return -direction;
      if (x > y) return direction;
      return items[a].priority - items[b].priority;
    });
    var fragment = document.createDocumentFragment();
    order.forEach(function (index) { fragment.appendChild(rows[index]); });
    tbody.appendChild(fragment);
  }

  function reveal() {
    var target = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (target && target.hidden) {
      form.reset();
      filter();
      target.scrollIntoView();
    }
  }

  headers.forEach(function (header) {
    header.querySelector("button").addEventListener("click", function () { sortBy(header); });
  });
  controls.forEach(function (control) {
    control.addEventListener("input", filter);
    control.addEventListener("change", filter);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("reset", function () { setTimeout(filter, 0); });
  window.addEventListener("hashchange", reveal);
  filter();
  reveal();
})();
