// corral run report: draws the charts (uPlot) and tables from the figures embedded as JSON.
// Everything is in this file's page: no request leaves it.
(function () {
  "use strict";
  var F = JSON.parse(document.getElementById("figures").textContent);
  var main = document.getElementById("report");
  var C = { ok: "#2e9d5b", http: "#e08a00", err: "#d0342c", skip: "#8a94a6", blue: "#2f6fdb",
            violet: "#7b4fd0", teal: "#12939a" };
  var charts = [];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function fmt(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); }
  function size(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : String(Math.round(n))) + " " + units[i];
  }
  function sum(a) { return a.reduce(function (s, v) { return s + (v || 0); }, 0); }
  function card(title, note) {
    var c = el("section", { "class": "card" }, [el("h2", { text: title })]);
    if (note) c.appendChild(el("p", { "class": "note", text: note }));
    return c;
  }
  function grid(cards) { main.appendChild(el("div", { "class": "grid" }, cards)); }

  // one uPlot chart in a card; drawn once the card is in the page (it needs its width)
  function chart(c, opts, data) {
    var holder = el("div", { "class": "chart", "data-chart": opts.name });
    c.insertBefore(holder, c.children[1] || null);
    charts.push(function () {
      opts.width = Math.max(320, c.clientWidth - 28);
      opts.height = opts.height || 240;
      new uPlot(opts, data, holder);
    });
  }
  function line(label, color, extra) {
    var s = { label: label, stroke: color, width: 1.5, points: { show: false } };
    Object.keys(extra || {}).forEach(function (k) { s[k] = extra[k]; });
    return s;
  }
  // bars of one series (align 0), or of two side by side (align -1 and 1)
  function bars(label, color, align) {
    var size = align ? [0.4, 32] : [0.6, 48];
    return { label: label, stroke: color, fill: color + "cc", width: 1,
             paths: uPlot.paths.bars({ size: size, align: align || 0 }), points: { show: false } };
  }
  // an axis of whole numbers (attempts, depth)
  var countAxis = function (label) {
    return { label: label, incrs: [1, 2, 5, 10, 20, 50, 100],
             values: function (u, v) { return v.map(function (n) { return n < 0 ? "" : n; }); } };
  };
  function axisY(label, values) {
    var a = { label: label, size: values ? 78 : 60, labelSize: 18 };
    if (values) a.values = values;
    return a;
  }
  var countX = { time: false, range: function (u, lo, hi) { return [lo - 1, hi + 1]; } };

  // --- time series -------------------------------------------------------------------------
  var S = F.series, t = S.t;
  var through = card("Throughput, by outcome", "URLs recorded per second, in buckets of " +
                     S.step + " s");
  var tSeries = [{}, line("ok", C.ok)], tData = [t, S.ok];
  [["HTTP error", "http_error", C.http], ["network error", "error", C.err],
   ["skipped", "skipped", C.skip]].forEach(function (s) {
    if (sum(S[s[1]]) > 0) { tSeries.push(line(s[0], s[2])); tData.push(S[s[1]]); }
  });
  chart(through, { name: "throughput", series: tSeries,
                   axes: [{}, axisY("URLs/s")] }, tData);

  var anyLatency = S.p50.some(function (v) { return v != null; });
  var latency = card("Latency", "p50, p90 and p99 of each bucket's responses, in ms" +
                     (anyLatency ? " (log scale)" : ": no responses"));
  // buckets with no response are skipped over (spanGaps), and a sparse series shows its
  // points: one bucket between two empty ones would otherwise draw nothing
  var buckets = S.p50.filter(function (v) { return v != null; }).length;
  var sparse = { spanGaps: true, points: { show: buckets < 60, size: 5 } };
  chart(latency, { name: "latency",
                   scales: { y: anyLatency ? { distr: 3 } : { range: [0, 100] } },
                   series: [{}, line("p50", C.blue, sparse), line("p90", C.violet, sparse),
                            line("p99", C.err, sparse)],
                   axes: [{}, axisY("ms")] }, [t, S.p50, S.p90, S.p99]);
  grid([through, latency]);

  var bytes = card("Bytes received", "body bytes per second");
  chart(bytes, { name: "bytes", series: [{}, line("bytes/s", C.teal, { fill: C.teal + "33" })],
                 axes: [{}, axisY("bytes/s", function (u, v) { return v.map(size); })] },
        [t, S.bytes]);
  var retries = card("Attempts per URL", "how many URLs needed 1, 2, 3... attempts");
  var R = F.retries.length ? F.retries : [[1, 0]];
  chart(retries, { name: "retries", scales: { x: countX },
                   series: [{}, bars("URLs", C.blue)], axes: [countAxis("attempts"), axisY("URLs")] },
        [R.map(function (r) { return r[0]; }), R.map(function (r) { return r[1]; })]);
  grid([bytes, retries]);

  // --- a crawl, and the run's samples ----------------------------------------------------------
  var row = [];
  var P = F.samples;
  if (F.crawl) {
    var done = 0, pages = t.map(function (_, i) {
      done += (S.ok[i] + S.http_error[i] + S.error[i]) * S.step; return Math.round(done);
    });
    var growth = card("Pages and frontier", P ? "pages fetched so far; URLs waiting to be " +
                      "fetched (the run's samples)" : "pages fetched so far");
    if (P) {
      chart(growth, { name: "frontier", series: [{}, line("frontier", C.violet),
                      line("in flight", C.teal)], axes: [{}, axisY("URLs")] },
            [P.t, P.frontier, P.in_flight]);
    }
    chart(growth, { name: "pages", series: [{}, line("pages fetched", C.ok)],
                    axes: [{}, axisY("pages")] }, [t, pages]);
    var D = F.crawl.depths.length ? F.crawl.depths : [[0, 0, 0]];
    var depth = card("Depth", "pages fetched and URLs skipped, by links from a seed");
    chart(depth, { name: "depth", scales: { x: countX },
                   series: [{}, bars("fetched", C.ok, -1), bars("skipped", C.skip, 1)],
                   axes: [countAxis("depth"), axisY("URLs")] },
          [D.map(function (d) { return d[0]; }), D.map(function (d) { return d[1]; }),
           D.map(function (d) { return d[2]; })]);
    row.push(growth, depth);
  } else if (P) {
    var work = card("Work in progress", "the run's samples: requests in flight, URLs queued, " +
                    "hosts throttled");
    chart(work, { name: "samples", series: [{}, line("in flight", C.teal),
                  line("queued", C.violet), line("throttled hosts", C.err)],
                  axes: [{}, axisY("")] }, [P.t, P.in_flight, P.queued, P.throttled]);
    row.push(work);
  }
  if (row.length) grid(row);

  // --- tables --------------------------------------------------------------------------------
  function table(columns, rows, sortable) {
    var head = el("tr", {}, columns.map(function (c) {
      return el("th", { "class": (c.n ? "n" : "") + (sortable ? " sortable" : ""), text: c.label });
    }));
    var body = el("tbody");
    function fill(list) {
      body.textContent = "";
      list.forEach(function (r) {
        body.appendChild(el("tr", {}, columns.map(function (c) {
          var v = r[c.key];
          return el("td", { "class": c.n ? "n" : (c.url ? "url" : ""),
                            text: c.show ? c.show(v, r) : (c.n ? fmt(v) : (v == null ? "" : v)) });
        })));
      });
    }
    fill(rows);
    var t = el("table", {}, [el("thead", {}, [head]), body]);
    t.fill = fill;
    if (sortable) {
      var key = null, asc = false;
      Array.prototype.forEach.call(head.children, function (th, i) {
        th.addEventListener("click", function () {
          var c = columns[i];
          asc = key === c.key ? !asc : !c.n; key = c.key;
          Array.prototype.forEach.call(head.children, function (h) { h.className = h.className.replace(/ ?sorted| ?asc/g, ""); });
          th.className += " sorted" + (asc ? " asc" : "");
          t.rows_.sort(function (a, b) {
            var x = a[key], y = b[key];
            if (x == null) return 1; if (y == null) return -1;
            return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
          });
          t.refill();
        });
      });
    }
    return t;
  }
  function samples(list) { return list.join("\n"); }

  var statuses = card("HTTP status codes");
  statuses.appendChild(F.statuses.length ? table(
    [{ label: "status", key: "status" }, { label: "URLs", key: "count", n: true },
     { label: "sample URLs", key: "samples", url: true, show: samples }], F.statuses)
    : el("p", { "class": "note", text: "no responses" }));
  var errors = card("Errors, by kind");
  errors.appendChild(F.errors.length ? table(
    [{ label: "kind", key: "kind" }, { label: "URLs", key: "count", n: true },
     { label: "samples", key: "samples", url: true,
       show: function (v) { return v.map(function (s) { return s[0] + " — " + s[1]; }).join("\n"); } }],
    F.errors) : el("p", { "class": "note", text: "no errors" }));
  grid([statuses, errors]);

  var H = F.hosts;
  var hosts = card("Hosts", H.total > H.rows.length ? "the " + H.rows.length + " busiest of " +
                   fmt(H.total) + " hosts" : fmt(H.total) + " hosts; click a column to sort");
  var search = el("input", { type: "search", placeholder: "filter hosts", "aria-label": "filter hosts" });
  var hostColumns = [{ label: "host", key: "host" }, { label: "requests", key: "requests", n: true },
    { label: "ok", key: "ok", n: true }, { label: "errors", key: "errors", n: true },
    { label: "429", key: "s429", n: true }, { label: "503", key: "s503", n: true },
    { label: "skipped", key: "skipped", n: true },
    { label: "bytes", key: "bytes", n: true, show: function (v) { return size(v); } },
    { label: "p50 ms", key: "p50_ms", n: true }, { label: "p95 ms", key: "p95_ms", n: true }];
  var hostTable = table(hostColumns, H.rows, true);
  hostTable.rows_ = H.rows.slice();
  hostTable.refill = function () {
    var q = search.value.toLowerCase();
    hostTable.fill(hostTable.rows_.filter(function (r) { return r.host.toLowerCase().indexOf(q) >= 0; }));
  };
  search.addEventListener("input", hostTable.refill);
  hosts.appendChild(search);
  hosts.appendChild(el("div", { "class": "tablewrap" }, [hostTable]));
  main.appendChild(el("div", { "class": "grid" }, [hosts]));

  var T = F.throttling;
  if (T) {
    var throttle = card("Throttled hosts", fmt(T.throttled) + " hosts slowed down or closed " +
      "(429/503 answers, Retry-After), and robots.txt Crawl-delays" +
      (T.dropped ? "; " + fmt(T.dropped) + " later events not recorded" : ""));
    var throttleTable = table([{ label: "host", key: "host" },
      { label: "slow-downs", key: "slow_downs", n: true },
      { label: "Retry-After", key: "retry_afters", n: true },
      { label: "closed s", key: "closed_s", n: true },
      { label: "Crawl-delay s", key: "crawl_delay", n: true }], T.hosts, true);
    throttleTable.rows_ = T.hosts.slice();
    throttleTable.refill = function () { throttleTable.fill(throttleTable.rows_); };
    throttle.appendChild(el("div", { "class": "tablewrap" }, [throttleTable]));
    main.appendChild(el("div", { "class": "grid" }, [throttle]));
  }

  var slow = card("Slowest URLs", "the final attempt's time");
  slow.appendChild(F.slowest.length ? table(
    [{ label: "ms", key: "ms", n: true }, { label: "status", key: "status" },
     { label: "URL", key: "url", url: true }], F.slowest)
    : el("p", { "class": "note", text: "no responses" }));
  var runs = card("Runs", "each run of the job on this store (a resumed job has several)");
  runs.appendChild(table([{ label: "#", key: "id" }, { label: "started", key: "started" },
    { label: "seconds", key: "seconds", n: true }, { label: "ended", key: "status" },
    { label: "command", key: "command", url: true }], F.runs));
  var lower = [slow, runs];
  if (F.workers && F.workers.length) {  // a job over Redis: who made the records
    var workers = card("Workers", "records each corral worker made (a job over Redis)");
    workers.setAttribute("data-figure", "workers");  // (how many: for scripts and tests)
    workers.setAttribute("data-value", String(F.workers.length));
    workers.appendChild(table([{ label: "worker", key: "worker" },
      { label: "records", key: "records", n: true }, { label: "ok", key: "ok", n: true },
      { label: "failed", key: "failed", n: true }], F.workers));
    lower.push(workers);
  }
  if (F.proxies && F.proxies.length) {  // runs through proxies: the summary's proxy lines
    var proxies = card("Proxies", "attempts through each proxy, those that failed by its " +
      "fault, and its rests (all runs)");
    proxies.setAttribute("data-figure", "proxies");
    proxies.setAttribute("data-value", String(F.proxies.length));
    proxies.appendChild(table([{ label: "proxy", key: "proxy", url: true },
      { label: "requests", key: "requests", n: true }, { label: "errors", key: "errors", n: true },
      { label: "rested", key: "rested", n: true }], F.proxies));
    lower.push(proxies);
  }
  if (F.crawl) {
    var skips = card("Skipped, by reason", "URLs the crawl met and did not fetch");
    skips.appendChild(F.crawl.skips.length ? table([{ label: "reason", key: "reason" },
      { label: "URLs", key: "count", n: true }], F.crawl.skips)
      : el("p", { "class": "note", text: "none skipped" }));
    lower.push(skips);
  }
  grid(lower);

  var settings = Object.keys(F.settings).map(function (k) { return k + " " + F.settings[k]; });
  document.getElementById("footer").textContent = "corral " + F.corral + " · store " + F.store +
    (settings.length ? " · " + settings.join(", ") : "") + " · made " + F.generated +
    " · again: corral report " + F.store;
  var verdict = document.querySelector(".verdict");
  var status = F.header.status;
  verdict.className += status === "done" ? " done" : (status === "running" ? "" : " bad");
  charts.forEach(function (draw) { draw(); });
  document.body.setAttribute("data-ready", String(charts.length));
})();
