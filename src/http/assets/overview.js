// netprobe overview page: draws the trust panel, the charts (uPlot) and the
// interface table from the overview document, then refreshes it from
// /api/v1/overview. Plain browser JavaScript, no build step, no other host.
// Every value from the document reaches the DOM as text (textContent), never
// as markup: interface names may hold '<', '"' or '&'.
(function () {
  'use strict';

  var API = '/api/v1/overview';
  var doc = null;
  /** Server clock minus browser clock (from the Date header), for the last collection's age. */
  var clockOffsetMs = 0;
  var lastFetchOk = true;
  var lastFetchError = '';
  var fetchedAt = Date.now();
  var charts = { bytes: null, packets: null, top: null, topKey: '', drops: null, dropsKey: '' };
  /** Left out of the drops chart: mostly not a real drop (plain kfree_skb). */
  var NOISY_REASON = 'not_specified';
  /** Reasons the drops chart draws at most (the most drops in the window). */
  var DROP_REASONS_SHOWN = 5;
  var sort = { key: 'busy', desc: true };
  var filterText = '';
  var rows = new Map(); // key -> { tr, cells, texts }
  var shownOrder = [];
  var columnsKey = '';

  function el(id) {
    return document.getElementById(id);
  }

  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- number formatting (3 significant digits, SI prefixes) ----
  var PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  function si(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v === 0) return '0';
    var i = 0;
    var x = Math.abs(v);
    while (x >= 999.5 && i < PREFIXES.length - 1) {
      x /= 1000;
      i++;
    }
    var s = x >= 99.95 ? x.toFixed(0) : x >= 9.995 ? x.toFixed(1) : x.toFixed(2);
    return (v < 0 ? '-' : '') + s + (PREFIXES[i] ? ' ' + PREFIXES[i] : '');
  }
  function withUnit(v, unit) {
    var s = si(v);
    return /[kMGTPE]$/.test(s) && unit.charAt(0) === 'B' ? s + unit : s + ' ' + unit;
  }
  function duration(seconds) {
    if (seconds === null || !isFinite(seconds)) return '–';
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + ' s';
    var m = Math.floor(seconds / 60);
    if (m < 60) return m + ' min ' + (seconds % 60) + ' s';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }
  function count(n) {
    return n === null || n === undefined ? 'n/a' : n.toLocaleString('en-US');
  }

  // ---- trust panel ----
  function staleAfterMs(t) {
    return Math.max(3 * t.collectIntervalMs, 30000);
  }
  function lastCollectionAgeMs(t) {
    return t.lastCollection === null ? null : Math.max(0, Date.now() + clockOffsetMs - t.lastCollection);
  }

  function trustItems(d) {
    var t = d.trust;
    var age = lastCollectionAgeMs(t);
    var items = [
      ['Collection', t.up ? 'up' : 'down', t.up ? 'ok' : 'bad', 'whether the last collection succeeded'],
      [
        'Source',
        t.source + (t.attachMode ? ' · ' + t.attachMode : ''),
        t.source === 'ebpf' ? 'ok' : 'warn',
        t.source === 'ebpf' ? 'eBPF counters at the TC hook' : 'fallback: the kernel interface counters, not eBPF',
      ],
      ['Version', t.version, 'ok', ''],
      // uptimeSeconds is as of generatedAt: a document served from memory (or embedded in the page) may be older than its fetch.
      ['Uptime', duration(t.uptimeSeconds + (Date.now() + clockOffsetMs - d.generatedAt) / 1000), 'ok', 'since the exporter started'],
      ['Interfaces counted', count(t.interfacesCounted), 'ok', 'interfaces the source counts'],
      [
        'Interfaces uncounted',
        count(t.interfacesUncounted),
        t.interfacesUncounted > 0 ? 'bad' : 'ok',
        'interfaces the BPF maps had no room for (NP_ERR_MAP_FULL)',
      ],
      ['Overflow', count(t.overflow), t.overflow > 0 ? 'warn' : 'ok', 'interfaces counted in the overflow map'],
      ['Uncounted packets', count(t.uncountedPackets), t.uncountedPackets > 0 ? 'bad' : 'ok', 'packets the kernel side could not count'],
      ['Collections', count(t.collections), 'ok', 'every ' + t.collectIntervalMs / 1000 + ' s'],
      [
        'Collection errors',
        count(t.collectionErrors),
        t.collectionErrors > 0 ? (t.up ? 'warn' : 'bad') : 'ok',
        'failed collections since start',
      ],
      ['Last error', t.lastError === null ? 'none' : t.lastError, t.lastError === null ? 'ok' : 'bad', ''],
      [
        'Last collection',
        age === null ? 'never' : duration(age / 1000) + ' ago',
        age === null || age > staleAfterMs(t) ? 'bad' : 'ok',
        'stale after ' + staleAfterMs(t) / 1000 + ' s',
      ],
      ['Series', count(t.series), 'ok', 'samples in /metrics'],
    ];
    // With pod attribution: the pod-side (socket) view, and pods whose host veth misses their traffic.
    if (t.podSockets) {
      var ps = t.podSockets;
      items.push([
        'Pod sockets',
        ps.open ? (ps.problem ? 'read failing' : 'counted') : 'off',
        ps.open && !ps.problem ? 'ok' : 'warn',
        ps.open
          ? ps.problem || 'pods are also counted at their sockets, on any datapath'
          : 'per-pod totals may be incomplete (host veths only): ' + (ps.problem || ''),
      ]);
      items.push([
        'Veth blind spots',
        ps.blindPods.length === 0 ? 'none' : ps.blindPods.join(', '),
        ps.blindPods.length === 0 ? 'ok' : 'warn',
        'pods whose sockets received traffic their host veth never carried (>100 packets in 10 min): use netprobe_pod_socket_* for them',
      ]);
    }
    if (t.dropShare) items.push(dropShareItem(t.dropShare));
    if (!lastFetchOk)
      items.unshift(['Page', 'cannot refresh: ' + lastFetchError, 'bad', 'the numbers below are from the last successful refresh']);
    return items;
  }

  /** A share as a percentage: whole above 10 %, one decimal below (1 %, 0.7 %, 49 %). */
  function percent(share) {
    var v = share * 100;
    return (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10) + ' %';
  }

  /** Pods and interfaces whose drops passed the rule over the last 5 minutes (the server decides; docs/overview.md). */
  function dropShareItem(ds) {
    var rule =
      'pods and interfaces whose drops passed ' +
      percent(ds.limit) +
      ' of drops + packets (and at least ' +
      count(ds.minDrops) +
      ' drops) over the last ' +
      ds.windowMs / 60000 +
      ' min; a pod\u2019s drops leave out not_specified, an interface\u2019s are the kernel\u2019s drop counters';
    if (ds.over.length === 0) return ['Drop share', 'none above ' + percent(ds.limit), 'ok', rule];
    var named = ds.over.map(function (o) {
      return o.kind + ' ' + o.name + ': ' + percent(o.share) + ' (' + count(o.drops) + ' drops, ' + count(o.packets) + ' packets)';
    });
    return ['Drop share', named.join('; '), 'warn', rule];
  }

  function renderTrust(d) {
    var dl = el('trust');
    var items = trustItems(d);
    var frag = document.createDocumentFragment();
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      var div = make('div', 'tile ' + it[2] + (it[1].length > 40 ? ' long' : ''));
      div.dataset.name = it[0];
      var dt = make('dt', null, it[0]);
      var dd = make('dd', null, (it[2] === 'bad' ? '✖ ' : it[2] === 'warn' ? '▲ ' : '') + it[1]);
      if (it[3]) div.title = it[3];
      div.appendChild(dt);
      div.appendChild(dd);
      frag.appendChild(div);
    }
    dl.replaceChildren(frag);
    // Which document the panel shows, for a glance in the inspector (and the browser test).
    dl.dataset.generatedAt = String(d.generatedAt);
  }

  // ---- charts ----
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function chartOptions(container, series, unit) {
    var axis = cssVar('--muted');
    var grid = cssVar('--grid');
    return {
      width: Math.max(200, container.clientWidth),
      height: 190,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      hooks: {
        setScale: [
          function (u, key) {
            // The time range drawn, for a glance in the inspector (and the browser test).
            if (key !== 'x') return;
            u.root.parentNode.dataset.xMin = String(u.scales.x.min);
            u.root.parentNode.dataset.xMax = String(u.scales.x.max);
          },
        ],
      },
      scales: {
        // Always the history window ending now: with fewer than two points
        // uPlot's own range would be years away from today.
        x: { time: true, range: timeWindow },
        y: {
          range: function (u, min, max) {
            return [0, max > 0 ? max * 1.1 : 1];
          },
        },
      },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          size: 56,
          values: function (u, vals) {
            return vals.map(function (v) {
              return si(v);
            });
          },
        },
      ],
      series: [{ value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' }].concat(
        series.map(function (s) {
          return {
            label: s.label,
            stroke: s.color,
            width: 1.5,
            fill: s.fill || undefined,
            spanGaps: false,
            points: { show: false },
            value: function (u, v) {
              return v === null || v === undefined ? '–' : withUnit(v, unit.trim());
            },
          };
        }),
      ),
    };
  }

  /** [now - history window, now] in Unix seconds, by the server's clock; never before the newest point. */
  function timeWindow() {
    var h = doc.history;
    var newest = h.times.length ? h.times[h.times.length - 1] : -Infinity;
    var end = Math.max(Date.now() + clockOffsetMs, newest) / 1000;
    return [end - h.windowMs / 1000, end];
  }

  /** Until two points exist a chart has no line to draw: say so over it. */
  function showCollecting(id, points) {
    var chart = el(id);
    var note = chart.parentNode.querySelector('.collecting');
    if (!note) {
      note = make('p', 'collecting');
      chart.parentNode.appendChild(note);
    }
    note.hidden = points >= 2;
    // A point per collection, at most one a second (the history's step).
    var step = Math.max(1000, doc.trust.collectIntervalMs) / 1000;
    note.textContent = points >= 2 ? '' : 'Collecting… one point every ' + step + ' s; the chart draws from the second.';
  }

  function alpha(color, a) {
    // #rrggbb -> rgba
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
    return m ? 'rgba(' + parseInt(m[1], 16) + ',' + parseInt(m[2], 16) + ',' + parseInt(m[3], 16) + ',' + a + ')' : color;
  }

  function topLabel(t) {
    return t.pod ? t.namespace + '/' + t.pod + ' (' + t.name + ')' : t.name;
  }

  function drawCharts(d, rebuild) {
    if (typeof uPlot === 'undefined') return;
    var h = d.history;
    var xs = h.times.map(function (t) {
      return t / 1000;
    });
    var inC = cssVar('--in');
    var outC = cssVar('--out');
    var bytesData = [xs, h.totals.ingressBytesPerSecond, h.totals.egressBytesPerSecond];
    var packetsData = [xs, h.totals.ingressPacketsPerSecond, h.totals.egressPacketsPerSecond];
    var topKey = h.top
      .map(function (t) {
        return t.ifindex + '\u0000' + topLabel(t);
      })
      .join('\u0001');
    if (rebuild) {
      for (var k of ['bytes', 'packets', 'top']) if (charts[k]) charts[k].destroy();
      charts.bytes = charts.packets = charts.top = null;
    }
    if (!charts.bytes) {
      var dirs = [
        { label: 'in', color: inC, fill: alpha(inC, 0.12) },
        { label: 'out', color: outC, fill: alpha(outC, 0.12) },
      ];
      charts.bytes = new uPlot(chartOptions(el('chart-bytes'), dirs, 'B/s'), bytesData, el('chart-bytes'));
      charts.packets = new uPlot(chartOptions(el('chart-packets'), dirs, ' pkt/s'), packetsData, el('chart-packets'));
    } else {
      charts.bytes.setData(bytesData);
      charts.packets.setData(packetsData);
    }
    var topData = [xs].concat(
      h.top.map(function (t) {
        return t.bytesPerSecond;
      }),
    );
    // How many points each chart holds, for a glance in the inspector (and the browser test).
    el('chart-bytes').dataset.points = el('chart-packets').dataset.points = el('chart-top').dataset.points = String(xs.length);
    for (var id of ['chart-bytes', 'chart-packets', 'chart-top']) showCollecting(id, xs.length);
    if (!charts.top || charts.topKey !== topKey) {
      if (charts.top) charts.top.destroy();
      var palette = [cssVar('--c1'), cssVar('--c2'), cssVar('--c3'), cssVar('--c4'), cssVar('--c5')];
      var series = h.top.map(function (t, i) {
        return { label: topLabel(t), color: palette[i % palette.length] };
      });
      charts.top = new uPlot(chartOptions(el('chart-top'), series, 'B/s'), topData, el('chart-top'));
      charts.topKey = topKey;
    } else {
      charts.top.setData(topData);
    }
    drawDrops(d, rebuild);
  }

  /** The drops chart (with the ebpf source): drops/s by reason, not_specified left out. */
  function drawDrops(d, rebuild) {
    var figure = el('drops-figure');
    var all = d.history.drops;
    figure.hidden = !all;
    if (!all) return;
    var shown = all
      .filter(function (r) {
        return r.reason !== NOISY_REASON;
      })
      .slice(0, DROP_REASONS_SHOWN);
    var xs = d.history.times.map(function (t) {
      return t / 1000;
    });
    var data = [xs].concat(
      shown.map(function (r) {
        return r.perSecond;
      }),
    );
    var key = shown
      .map(function (r) {
        return r.reason;
      })
      .join('\u0001');
    var chart = el('chart-drops');
    chart.dataset.points = String(xs.length);
    chart.dataset.reasons = key.split('\u0001').filter(Boolean).join(',');
    showCollecting('chart-drops', xs.length);
    var note = chart.parentNode.querySelector('.collecting');
    if (xs.length >= 2 && shown.length === 0) {
      note.hidden = false;
      note.textContent = 'No drops other than ' + NOISY_REASON + ' in this window.';
    }
    if (rebuild || !charts.drops || charts.dropsKey !== key) {
      if (charts.drops) charts.drops.destroy();
      var palette = [cssVar('--c1'), cssVar('--c2'), cssVar('--c3'), cssVar('--c4'), cssVar('--c5')];
      var series = shown.map(function (r, i) {
        return { label: r.reason, color: palette[i % palette.length] };
      });
      charts.drops = new uPlot(chartOptions(chart, series, ' pkt/s'), data, chart);
      charts.dropsKey = key;
    } else {
      charts.drops.setData(data);
    }
  }

  function resizeCharts() {
    for (var k of ['bytes', 'packets', 'top', 'drops']) {
      var c = charts[k];
      if (c) c.setSize({ width: Math.max(200, c.root.parentNode.clientWidth), height: 190 });
    }
  }

  // ---- table ----
  function hasPods(d) {
    for (var i = 0; i < d.interfaces.length; i++) if (d.interfaces[i].pod !== undefined) return true;
    return false;
  }

  function columns(d) {
    var cols = [
      {
        key: 'name',
        label: 'Interface',
        text: true,
        get: function (r) {
          return r.name;
        },
      },
    ];
    if (hasPods(d)) {
      cols.push({
        key: 'namespace',
        label: 'Namespace',
        text: true,
        get: function (r) {
          return r.namespace || '';
        },
      });
      cols.push({
        key: 'pod',
        label: 'Pod',
        text: true,
        get: function (r) {
          return r.pod || '';
        },
      });
    }
    return cols.concat([
      {
        key: 'role',
        label: 'Role',
        text: true,
        get: function (r) {
          return r.role || '';
        },
      },
      {
        key: 'ifindex',
        label: 'ifindex',
        get: function (r) {
          return r.ifindex;
        },
        show: String,
      },
      {
        key: 'inB',
        label: 'In B/s',
        get: function (r) {
          return r.ingress.bytesPerSecond;
        },
        unit: 'B/s',
      },
      {
        key: 'outB',
        label: 'Out B/s',
        get: function (r) {
          return r.egress.bytesPerSecond;
        },
        unit: 'B/s',
      },
      {
        key: 'inP',
        label: 'In pkt/s',
        get: function (r) {
          return r.ingress.packetsPerSecond;
        },
        unit: 'pkt/s',
      },
      {
        key: 'outP',
        label: 'Out pkt/s',
        get: function (r) {
          return r.egress.packetsPerSecond;
        },
        unit: 'pkt/s',
      },
      {
        key: 'inBytes',
        label: 'In bytes',
        get: function (r) {
          return r.ingress.bytes;
        },
        unit: 'bytes',
      },
      {
        key: 'outBytes',
        label: 'Out bytes',
        get: function (r) {
          return r.egress.bytes;
        },
        unit: 'bytes',
      },
      {
        key: 'drops',
        label: 'Drops',
        get: function (r) {
          return r.drops ? r.drops.ingress + r.drops.egress : null;
        },
        unit: 'drops',
        tip: function (r) {
          return r.drops
            ? 'in ' + r.drops.ingress + ', out ' + r.drops.egress + '; errors in ' + r.errors.ingress + ', out ' + r.errors.egress
            : '';
        },
      },
      {
        key: 'active',
        label: 'Active',
        get: function (r) {
          return r.departed ? -1 : r.active ? 1 : 0;
        },
        show: function (v) {
          return v < 0 ? 'departed' : v ? 'yes' : 'no';
        },
      },
    ]);
  }

  function busy(r) {
    return r.ingress.bytesPerSecond + r.egress.bytesPerSecond;
  }

  function renderHead(cols) {
    var tr = el('interfaces').tHead.rows[0];
    var frag = document.createDocumentFragment();
    cols.forEach(function (c) {
      var th = make('th');
      th.scope = 'col';
      th.dataset.key = c.key;
      if (!c.text) th.className = 'num';
      var b = make('button', null, c.label);
      b.type = 'button';
      b.title = 'sort by ' + c.label;
      b.addEventListener('click', function () {
        if (sort.key === c.key) sort.desc = !sort.desc;
        else sort = { key: c.key, desc: !c.text };
        renderTable(doc, true);
      });
      th.appendChild(b);
      frag.appendChild(th);
    });
    tr.replaceChildren(frag);
  }

  function updateSortMarks() {
    var ths = el('interfaces').tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) {
      var th = ths[i];
      if (th.dataset.key === sort.key) th.setAttribute('aria-sort', sort.desc ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
  }

  function renderTable(d, force) {
    var cols = columns(d);
    var key = cols
      .map(function (c) {
        return c.key;
      })
      .join(',');
    if (key !== columnsKey) {
      columnsKey = key;
      renderHead(cols);
      rows.forEach(function (r) {
        r.tr.remove();
      });
      rows.clear();
      shownOrder = [];
    }
    updateSortMarks();
    var present = new Set();
    for (var i = 0; i < d.interfaces.length; i++) {
      var itf = d.interfaces[i];
      var k = itf.ifindex + '\u0000' + itf.name;
      present.add(k);
      var row = rows.get(k);
      if (!row) {
        var tr = make('tr');
        var cells = cols.map(function (c) {
          var td = make('td', c.text ? null : 'num');
          tr.appendChild(td);
          return td;
        });
        row = { tr: tr, cells: cells, texts: [], titles: [], data: itf };
        rows.set(k, row);
      }
      row.data = itf;
      for (var j = 0; j < cols.length; j++) {
        var c = cols[j];
        var v = c.get(itf);
        var text = c.text ? v : c.show ? c.show(v) : si(v);
        if (row.texts[j] !== text) {
          row.cells[j].textContent = text;
          row.texts[j] = text;
        }
        if (c.unit) {
          var title = v === null ? '' : String(v) + ' ' + c.unit + (c.tip ? ' (' + c.tip(itf) + ')' : '');
          if (row.titles[j] !== title) {
            row.cells[j].title = title;
            row.titles[j] = title;
          }
        }
      }
      row.tr.classList.toggle('idle', !itf.active);
    }
    rows.forEach(function (r, k) {
      if (!present.has(k)) {
        r.tr.remove();
        rows.delete(k);
      }
    });

    var needle = filterText.toLowerCase();
    var list = [];
    rows.forEach(function (r) {
      if (!needle) return list.push(r);
      var x = r.data;
      if (
        x.name.toLowerCase().indexOf(needle) !== -1 ||
        (x.pod && x.pod.toLowerCase().indexOf(needle) !== -1) ||
        (x.namespace && x.namespace.toLowerCase().indexOf(needle) !== -1)
      )
        list.push(r);
    });
    var col = cols.find(function (c) {
      return c.key === sort.key;
    });
    var get = col ? col.get : busy;
    var text = col ? col.text : false;
    var dir = sort.desc ? -1 : 1;
    list.sort(function (a, b) {
      var x = get(a.data);
      var y = get(b.data);
      var c = text ? x.localeCompare(y) : x - y;
      if (c === 0) c = a.data.name < b.data.name ? -1 : a.data.name > b.data.name ? 1 : a.data.ifindex - b.data.ifindex;
      else c *= dir;
      return c;
    });
    var same = !force && list.length === shownOrder.length;
    for (var n = 0; same && n < list.length; n++) if (list[n] !== shownOrder[n]) same = false;
    if (!same) {
      el('interfaces').tBodies[0].replaceChildren.apply(
        el('interfaces').tBodies[0],
        list.map(function (r) {
          return r.tr;
        }),
      );
      shownOrder = list;
    }
    el('count').textContent =
      (needle ? list.length + ' of ' + d.interfaces.length : d.interfaces.length) +
      ' interfaces · sorted by ' +
      (col ? col.label : 'bytes/s (in + out)') +
      (sort.desc ? ', highest first' : ', lowest first');
  }

  // ---- status line and refresh ----
  function renderStatus() {
    var s = el('status');
    if (!doc) {
      s.textContent = 'No data yet.';
      return;
    }
    var interval = refreshMs(doc);
    if (lastFetchOk) {
      s.className = 'status';
      s.textContent =
        'Live · refreshed every ' +
        interval / 1000 +
        ' s · node (uplinks): in ' +
        withUnit(doc.totals.ingress.bytesPerSecond, 'B/s') +
        ', out ' +
        withUnit(doc.totals.egress.bytesPerSecond, 'B/s');
    } else {
      s.className = 'status bad';
      s.textContent =
        '✖ Cannot refresh (' + lastFetchError + '); showing data from ' + duration((Date.now() - fetchedAt) / 1000) + ' ago. Retrying.';
    }
  }

  function refreshMs(d) {
    return Math.min(5000, Math.max(2000, d.trust.collectIntervalMs));
  }

  // ---- what the node totals are ----
  function renderTotalsScope(d) {
    var names = (d.uplinks || []).map(function (u) {
      return u.name;
    });
    el('totals-scope').textContent = names.length
      ? 'Node totals are the traffic crossing the uplinks: ' +
        names.join(', ') +
        '. A pod\u2019s packet also crosses its veth (and a bridge), so the sum of all interfaces counts it two or three times.'
      : 'No uplink known (no default route among the exported interfaces): node totals are 0. Name the uplinks with --collector.uplinks.';
  }

  function render(rebuildCharts) {
    if (!doc) return;
    var started = performance.now();
    renderStatus();
    renderTrust(doc);
    renderTotalsScope(doc);
    drawCharts(doc, rebuildCharts);
    renderTable(doc, false);
    // Visible in the browser's performance panel (and read by the page's test at 2,000 interfaces).
    if (performance.measure) performance.measure('netprobe-render', { start: started, end: performance.now() });
  }

  var lastGeneratedAt = 0;
  function refresh() {
    fetch(API, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        var date = res.headers.get('Date');
        if (date) clockOffsetMs = Date.parse(date) + 500 - Date.now();
        return res.json();
      })
      .then(function (d) {
        lastFetchOk = true;
        fetchedAt = Date.now();
        var changed = d.generatedAt !== lastGeneratedAt;
        doc = d;
        lastGeneratedAt = d.generatedAt;
        if (changed) render(false);
        else {
          renderStatus();
          renderTrust(doc);
        }
      })
      .catch(function (e) {
        lastFetchOk = false;
        lastFetchError = e && e.message ? e.message : String(e);
        renderStatus();
        if (doc) renderTrust(doc);
      })
      .finally(function () {
        setTimeout(refresh, doc ? refreshMs(doc) : 5000);
      });
  }

  function start() {
    try {
      doc = JSON.parse(el('overview-data').textContent || 'null');
    } catch (e) {
      doc = null;
    }
    if (doc) {
      lastGeneratedAt = doc.generatedAt;
      render(true);
    }
    setTimeout(refresh, doc ? refreshMs(doc) : 0);

    var filter = el('filter');
    var pending = false;
    filter.addEventListener('input', function () {
      filterText = filter.value.trim();
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () {
        pending = false;
        if (doc) renderTable(doc, true);
      });
    });
    filter.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') {
        filter.value = '';
        filterText = '';
        if (doc) renderTable(doc, true);
      }
    });
    document.addEventListener('keydown', function (e) {
      if (e.key === '/' && document.activeElement !== filter) {
        e.preventDefault();
        filter.focus();
      }
    });
    var resizeTimer = 0;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(resizeCharts, 100);
    });
    var scheme = window.matchMedia('(prefers-color-scheme: dark)');
    var onScheme = function () {
      if (doc) drawCharts(doc, true);
    };
    if (scheme.addEventListener) scheme.addEventListener('change', onScheme);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
