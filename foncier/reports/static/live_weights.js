/* Live weights of a foncier siting map: the reader moves the priorities, the ranking follows.
 *
 * Every site's 0..1 criterion scores (and tie-break keys) were computed by foncier and are
 * shipped in the page as exact doubles. Moving a slider recomputes here, with the same
 * arithmetic as foncier.engine.aggregation (numpy's summation order included), the score,
 * the ranks, the top-N badges, the score classes and legend, the popups and the "why" line,
 * and the ranking diagnostics of foncier.engine.diagnostics (same rules, same thresholds, same
 * French text): the "nothing stands out" banner shows, and the badges go, exactly when the
 * weights in force single out no site.
 * Exclusions are hard rules: they are never re-weighted.
 *
 * Called as foncierLiveWeights(config, map, sitesGroup, badgesGroup); exposes the result on
 * window.foncierWeights (state, scores, ranks, diagnostics) for scripts and tests.
 * All text goes to the page through textContent or is escaped first.
 */
/* eslint-disable no-var */
window.foncierLiveWeights = function (D, map, sitesGroup, badgesGroup) {
  'use strict';
  var n = D.n;
  var crit = D.criteria;            // active criteria, profile order
  var k = crit.length;
  var allCrit = D.all;              // every criterion of the profile: {id, active, points}

  // ---------------------------------------------------------------- decoding
  function bytes(b64) {
    var bin = atob(b64), u = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { u[i] = bin.charCodeAt(i); }
    return u;
  }
  function f64(b64) { return new Float64Array(bytes(b64).buffer); }
  function i32(b64) { return new Int32Array(bytes(b64).buffer); }
  // foncier sums over criteria in the order of their ids (so that the order in which a
  // profile lists them does not matter): canon[c] = profile index of the c-th id, at[j] =
  // place of profile criterion j in that order. Code-point order, as numpy sorts text.
  var canon = crit.map(function (_, j) { return j; }).sort(function (a, b) {
    var x = crit[a].id, y = crit[b].id;
    return x < y ? -1 : (x > y ? 1 : a - b);
  });
  var at = new Int32Array(k);
  canon.forEach(function (j, c) { at[j] = c; });
  // Scores and tie-break keys in site-major order (sites × criteria, id order), as numpy.
  var S = new Float64Array(n * k), T = new Float64Array(n * k);
  crit.forEach(function (c, j) {
    var s = f64(c.scores), t = c.tiebreak ? f64(c.tiebreak) : null;
    for (var i = 0; i < n; i++) {
      S[i * k + at[j]] = s[i];
      T[i * k + at[j]] = t ? t[i] : 0;
    }
  });
  var excluded = bytes(D.excluded);
  var idOrder = i32(D.id_order);
  var pos = f64(D.positions);       // lat, lon per site
  var nearest = crit.map(function (c) {
    return c.nearest ? {names: c.nearest.names, idx: i32(c.nearest.idx)} : null;
  });

  // ------------------------------------------------- numpy's arithmetic, exactly
  // np.add.reduce over a contiguous axis: pairwise summation, 8 accumulators per block.
  function npSum(a, off, len) {
    var i, res;
    if (len < 8) {
      res = 0;
      for (i = 0; i < len; i++) { res += a[off + i]; }
      return res;
    }
    if (len <= 128) {
      var r0 = a[off], r1 = a[off + 1], r2 = a[off + 2], r3 = a[off + 3],
          r4 = a[off + 4], r5 = a[off + 5], r6 = a[off + 6], r7 = a[off + 7];
      for (i = 8; i < len - (len % 8); i += 8) {
        r0 += a[off + i]; r1 += a[off + i + 1]; r2 += a[off + i + 2]; r3 += a[off + i + 3];
        r4 += a[off + i + 4]; r5 += a[off + i + 5]; r6 += a[off + i + 6]; r7 += a[off + i + 7];
      }
      res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
      for (; i < len; i++) { res += a[off + i]; }
      return res;
    }
    var n2 = Math.floor(len / 2);
    n2 -= n2 % 8;
    return npSum(a, off, n2) + npSum(a, off + n2, len - n2);
  }
  // foncier.engine.aggregation.normalise_weights
  function normalise(w) {
    var total = npSum(w, 0, w.length);
    if (!(total > 0)) { return null; }
    return w.map(function (x) { return x / total; });
  }
  // Sums over the criteria of each site. score() aggregates scores[:, canon], an array that
  // numpy lays out column by column: einsum and .sum(axis=-1) then add the criteria one by one,
  // in order (not pairwise), and so does this.
  function rowSum(a, off) {
    var acc = 0;
    for (var j = 0; j < k; j++) { acc += a[off + j]; }
    return acc;
  }
  function rowDot(w, a, off) {
    var acc = 0;
    for (var j = 0; j < k; j++) { acc += w[j] * a[off + j]; }
    return acc;
  }
  function clip01(x) { return x < 0 ? 0 : (x > 1 ? 1 : x); }
  // foncier.engine.ties.round_key: floor(x · 10^d + 0.5).
  function roundKey(x, scale) { return Math.floor(x * scale + 0.5); }

  // ------------------------------------------------------------- aggregation
  var tmp = new Float64Array(k), tmp2 = new Float64Array(k);
  // OWA order weights: owa() normalises the ones it is given and owa_position_weights()
  // again (aggregation); the contributions' effective weights normalise them once.
  function cumulate(v) {
    var cum = [0];
    v.forEach(function (x, j) { cum.push(cum[j] + x); });
    return {v: v, cum: cum};
  }
  var owaAgg = null, owaEff = null;
  if (D.aggregation === 'owa') {
    owaAgg = cumulate(normalise(normalise(D.order_weights)));
    owaEff = cumulate(normalise(D.order_weights));
  }
  // foncier.engine.aggregation.owa_position_weights: tied criterion scores share the mean
  // of the order weights of their places. get(j) reads criterion j's score.
  function owaPositions(get, ow, out) {
    var j, m;
    for (j = 0; j < k; j++) { tmp2[j] = Math.floor(get(j) * 1e12 + 0.5); }
    for (j = 0; j < k; j++) {
      var above = 0, upto = 0;
      for (m = 0; m < k; m++) {
        if (tmp2[m] > tmp2[j]) { above++; }
        if (tmp2[m] >= tmp2[j]) { upto++; }
      }
      var size = upto - above;
      out[j] = size === 1 ? ow.v[Math.min(above, k - 1)] : (ow.cum[upto] - ow.cum[above]) / size;
    }
  }
  var vprime = new Float64Array(k), uv = new Float64Array(k);
  // Score 0..1 of site i: foncier.engine.aggregation.aggregate with the weights wAgg (id
  // order, already normalised by aggregate()).
  function aggregate(wAgg, i) {
    var off = i * k, j;
    if (D.aggregation === 'weighted_sum') { return clip01(rowDot(wAgg, S, off)); }
    if (D.aggregation === 'weighted_product') {
      for (j = 0; j < k; j++) {
        tmp[j] = wAgg[j] * (wAgg[j] > 0 ? Math.log(S[off + j]) : 0);
      }
      return clip01(Math.exp(rowSum(tmp, 0)));
    }
    owaPositions(function (c) { return S[off + c]; }, owaAgg, vprime);
    for (j = 0; j < k; j++) { uv[j] = wAgg[j] * vprime[j]; }
    var denom = rowSum(uv, 0);
    for (j = 0; j < k; j++) { tmp[j] = uv[j] * S[off + j]; }
    var out = rowSum(tmp, 0) / denom;
    return clip01(isNaN(out) ? 0 : out);
  }
  // tiebreak = Σ wᵢ tᵢ / Σ wᵢ in id order, with the weights of score() (wCanon).
  function tiebreak(wCanon, i) {
    var off = i * k;
    for (var j = 0; j < k; j++) { tmp[j] = T[off + j] * wCanon[j]; }
    return rowSum(tmp, 0) / npSum(wCanon, 0, k);
  }

  // ------------------------------------------------------------------ state
  var defaults = {};
  allCrit.forEach(function (c) { defaults[c.id] = c.points; });
  var points = Object.assign({}, defaults);
  var changed = false;
  var R = {
    score: new Float64Array(n), tiebreak: new Float64Array(n), rank: new Int32Array(n),
    exAequo: new Uint8Array(n), weights: null, order: []
  };

  // Weights for the points in force, by the same steps as Python: the profile normalises
  // them over all its criteria (with_weights, or reading a TOML file), score() over the
  // active ones in id order (wCanon; shown as each criterion's weight), aggregate() once more.
  function weightsFor(pts) {
    var p = normalise(allCrit.map(function (c) { return pts[c.id]; }));
    if (!p) { return null; }
    var byId = {};
    allCrit.forEach(function (c, j) { byId[c.id] = p[j]; });
    var wCanon = normalise(canon.map(function (j) { return byId[crit[j].id]; }));
    return wCanon ? fromCanon(wCanon) : null;
  }
  function defaultWeights() {
    // score()'s own weights, as written in the scores' metadata.
    return fromCanon(canon.map(function (j) { return crit[j].weight; }));
  }
  function fromCanon(wCanon) {
    var shown = new Array(k);
    canon.forEach(function (j, c) { shown[j] = wCanon[c]; });
    return {canon: wCanon, shown: shown, agg: normalise(wCanon)};
  }

  function compute(W) {
    var i, order = [];
    for (i = 0; i < n; i++) {
      R.score[i] = 100 * aggregate(W.agg, i);
      R.tiebreak[i] = tiebreak(W.canon, i);
      R.rank[i] = 0;
      R.exAequo[i] = 0;
      if (!excluded[i] && !isNaN(R.score[i])) { order.push(i); }
    }
    var key1 = new Float64Array(n), key2 = new Float64Array(n);
    order.forEach(function (i) {
      key1[i] = roundKey(R.score[i], 1e9);
      key2[i] = roundKey(R.tiebreak[i], 1e12);
    });
    order.sort(function (a, b) {
      return (key1[b] - key1[a]) || (key2[b] - key2[a]) || (idOrder[a] - idOrder[b]);
    });
    order.forEach(function (i, r) { R.rank[i] = r + 1; });
    for (var r = 1; r < order.length; r++) {
      if (key1[order[r]] === key1[order[r - 1]]) { R.exAequo[order[r]] = R.exAequo[order[r - 1]] = 1; }
    }
    R.weights = W.shown;
    R.W = W;
    R.order = order;
  }

  // ------------------------------------------------------------ diagnostics
  // foncier.engine.diagnostics.ranking_diagnostics on the ranking in force.
  var DG = D.diagnostics;
  var critScores = crit.map(function (c) { return f64(c.scores); });
  function mean(values) {
    // np.mean: numpy's pairwise sum, divided by the count.
    var a = Float64Array.from(values);
    return a.length ? npSum(a, 0, a.length) / a.length : NaN;
  }
  function median(values) {
    if (!values.length) { return NaN; }
    if (values.some(function (v) { return isNaN(v); })) { return NaN; }
    var a = Float64Array.from(values).sort(), h = a.length >> 1;
    return a.length % 2 ? a[h] : (a[h - 1] + a[h]) / 2;
  }
  function diagnose() {
    var order = R.order, m = order.length, N = D.top_n;
    var top = order.slice(0, N), rest = order.slice(N);
    var nTied = 0, best = NaN, spread = NaN;
    if (m) {
      var scale = Math.pow(10, DG.score_decimals), first = roundKey(R.score[order[0]], scale);
      order.forEach(function (i) { if (roundKey(R.score[i], scale) === first) { nTied++; } });
      best = R.score[order[0]];
      spread = R.score[order[0]] - R.score[top[top.length - 1]];
    }
    var eps = DG.tolerance;
    var criteria = crit.map(function (c, j) {
      var s = critScores[j];
      var sr = order.map(function (i) { return s[i]; });
      var lo = 0, hi = 0, min = Infinity, max = -Infinity, nan = false;
      sr.forEach(function (v) {
        if (v <= eps) { lo++; }
        if (v >= 1 - eps) { hi++; }
        if (isNaN(v)) { nan = true; }
        if (v < min) { min = v; }
        if (v > max) { max = v; }
      });
      var atMin = m ? lo / m : NaN, atMax = m ? hi / m : NaN;
      var topMean = mean(top.map(function (i) { return s[i]; }));
      var restMedian = median(rest.map(function (i) { return s[i]; }));
      var separation = topMean - restMedian;
      return {
        id: c.id, label: c.label, share_at_min: atMin, share_at_max: atMax,
        spread: m ? (nan ? NaN : max - min) : NaN, top_mean: topMean, rest_median: restMedian,
        separation: separation, separates: isFinite(separation) && separation >= DG.min_separation,
        saturated: !!m && Math.max(atMin, atMax) > DG.saturation_share,
        intended: c.saturation || null
      };
    });
    var reasons = [];
    if (!m) {
      reasons.push("aucun site n'est classé (tous sont exclus)");
    } else {
      if (m > 1 && criteria.every(function (c) { return c.spread <= eps; })) {
        reasons.push("aucun critère ne varie d'un site à l'autre");
      }
      if (nTied > N) {
        reasons.push(nTied + ' sites ont le meilleur score (' + pyFr(best, 1) + ') pour un top ' + N);
      } else if (Math.min(N, m) > 1 && spread < DG.min_top_spread) {
        reasons.push('les ' + Math.min(N, m) + ' premiers sites tiennent en ' + pyFr(spread, 2) +
          ' point (moins de ' + pyFr(DG.min_top_spread, 1) + ' point)');
      }
    }
    var shown = Math.min(N, m);
    var message = reasons.length
      ? 'Aucun site ne se détache : ' + reasons.join(' ; ') + '.'
      : 'Le classement distingue ses ' + shown + ' premiers sites (écart de ' + pyFr(spread, 1) +
        ' points entre le 1er et le ' + shown + 'e).';
    // RankingDiagnostics.lines()[1:]
    var lines = [];
    if (m) {
      lines.push(nTied + ' site(s) à égalité en tête ; écart du top ' + N + ' : ' +
        pyFr(spread, 1) + ' points.');
    }
    criteria.forEach(function (c) {
      var verdict = c.separates ? 'sépare le top' : 'ne sépare pas le top';
      var sat = c.saturated ? (c.intended ? ' (saturé, voulu : ' + c.intended + ')' : ' (saturé)') : '';
      lines.push(c.label + ' : ' + pct(c.share_at_min) + ' des sites à 0, ' + pct(c.share_at_max) +
        ' à 1, étendue ' + pyFr(c.spread, 2) + ', ' + verdict + sat + '.');
    });
    R.diagnostics = {
      top_n: N, n_ranked: m, n_tied_first: nTied, best_score: best, top_n_spread: spread,
      criteria: criteria, discriminates: !reasons.length, reasons: reasons, message: message,
      lines: lines
    };
    return R.diagnostics;
  }

  // -------------------------------------------------------------- formatting
  // Python's f"{x:.{d}f}": the exact value of the double, rounded half to even, where
  // toFixed rounds an exact half up. (toFixed(100) writes the double's exact decimals.)
  function pyFixed(x, d) {
    if (!isFinite(x)) { return String(x); }
    var s = x.toFixed(d), a = Math.abs(x);
    if (a < 1e21) {
      var full = a.toFixed(100), dot = full.indexOf('.');
      if (/^50*$/.test(full.slice(dot + 1 + d))) {
        var cut = full.slice(0, d ? dot + 1 + d : dot);
        var last = Number(cut.charAt(cut.length - 1));
        if (last % 2 === 0) { s = (x < 0 ? '-' : '') + cut; }
      }
    }
    return s;
  }
  // foncier.engine.diagnostics._fr and _pct
  function pyFr(x, d) {
    if (x === null || x === undefined || isNaN(x)) { return '\u2014'; }
    return pyFixed(x, d).replace('.', ',');
  }
  function pct(x) { return pyFixed(100 * x, 0) + ' %'; }
  function fr(x, d) {
    var s = Math.abs(x).toFixed(d), parts = s.split('.');
    var int = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
    return (x < 0 && Number(s) !== 0 ? '-' : '') + int + (parts.length > 1 ? ',' + parts[1] : '');
  }
  function escapeHtml(t) {
    return String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#x27;').replace(/\\/g, '&#92;')
      .replace(/`/g, '&#96;').replace(/\$/g, '&#36;');
  }

  // ------------------------------------------------------ the sites' features
  var geo = null;
  sitesGroup.eachLayer(function (l) { if (l.eachLayer && !geo) { geo = l; } });
  var byRow = new Array(n);
  if (geo) {
    geo.eachLayer(function (l) {
      var r = l.feature && l.feature.properties ? l.feature.properties._r : undefined;
      if (r !== undefined && r !== null) {
        byRow[r] = l;
        l.feature.properties._tip0 = l.feature.properties._tooltip;
      }
    });
  }
  function label(i) {
    var l = byRow[i], d = l && l.feature.properties._pt;
    return d && d.t ? d.t : '';
  }

  // Contributions and "why" of site i (top N only), as foncier.engine.scoring.why_sentences.
  // foncier.engine.scoring._effective_weights, in profile order: weight × score, OWA weights
  // made to add up to the aggregate.
  function contributions(i) {
    var off = i * k, w = R.weights, j, out = [];
    var score = function (jj) { return S[off + at[jj]]; };
    if (D.aggregation !== 'owa') {
      for (j = 0; j < k; j++) { out.push(w[j] * score(j)); }
      return out;
    }
    var vp = new Float64Array(k), u = new Float64Array(k);
    owaPositions(score, owaEff, vp);
    for (j = 0; j < k; j++) { u[j] = w[j] * vp[j]; }
    var total = rowSum(u, 0);
    for (j = 0; j < k; j++) {
      var e = u[j] / total;
      out.push((isFinite(e) ? e : 0) * score(j));
    }
    return out;
  }
  function why(i, contrib, rows) {
    var order = contrib.map(function (_, j) { return j; });
    order.sort(function (a, b) { return (contrib[b] - contrib[a]) || (a - b); });
    var parts = [];
    order.slice(0, 3).forEach(function (j) {
      if (!(contrib[j] > 0)) { return; }
      var c = crit[j], value = rows[j] ? rows[j][1] : '';
      // A feature known only at its commune: "Port : dans la commune de X, …" (no "à").
      var inside = value.indexOf('dans ') === 0;
      var text = c.distance && c.near_is_good && !inside ? c.label + ' à ' + value : c.label + ' : ' + value;
      var nn = nearest[j];
      if (c.distance && nn && nn.idx[i] >= 0) { text += ' (' + nn.names[nn.idx[i]] + ')'; }
      parts.push(text);
    });
    return parts.length ? parts.join(', ') : 'aucun critère favorable';
  }
  function headLine(i) {
    var sc = fr(R.score[i], 1);
    if (excluded[i] || !R.rank[i]) { return 'Exclu · score ' + sc + ' / 100'; }
    return 'Rang ' + R.rank[i] + (R.exAequo[i] ? ' (ex aequo)' : '') + ' · score ' + sc + ' / 100';
  }

  // Popups are built when opened: with the profile's weights they are foncier's own text,
  // otherwise the weight, contribution, rank and "why" parts are recomputed here.
  window.foncierPopupData = function (feature, d) {
    var i = feature.properties._r;
    if (!changed || i === undefined || i === null) { return d; }
    var contrib = contributions(i);
    var rows = d.r.map(function (row, j) {
      var out = row.slice();
      out[3] = fr(100 * R.weights[j], 0) + ' %';
      out[4] = fr(100 * contrib[j], 1) + ' pts';
      return out;
    });
    var footer = [headLine(i)];
    if (R.rank[i] && R.rank[i] <= D.top_n) { footer.push('Pourquoi : ' + why(i, contrib, d.r)); }
    d.f.forEach(function (line) {
      if (line.indexOf('Le plus proche') === 0 || line.indexOf('Exclu :') === 0) { footer.push(line); }
    });
    return {t: d.t, r: rows, f: footer};
  };

  // ------------------------------------------------------- classes and legend
  function quantileBins(values, kk) {
    // mapclassify.Quantiles: scipy's scoreatpercentile ('fraction') at np.arange(w, 100 + w, w)
    // with w = 100 / k, the last one capped at 100, then np.unique.
    var y = Float64Array.from(values).sort(), m = y.length, bins = [];
    var w = 100 / kk, step = (w + w) - w, len = Math.ceil(((100 + w) - w) / w);
    for (var q = 0; q < len; q++) {
      var p = q === 0 ? w : w + q * step;
      if (q === len - 1 && p > 100) { p = 100; }
      var idx = p / 100 * (m - 1), lo = Math.floor(idx), v;
      if (lo === idx) { v = y[lo]; } else {
        var wl = (lo + 1) - idx, wh = idx - lo;
        v = (y[lo] * wl + y[lo + 1] * wh) / (wl + wh);
      }
      bins.push(v);
    }
    bins.sort(function (a, b) { return a - b; });
    return bins.filter(function (b, j) { return j === 0 || b !== bins[j - 1]; });
  }
  function equalBins(values, kk) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var width = (hi - lo) / kk, bins = [];
    for (var q = 1; q <= kk; q++) { bins.push(lo + q * width); }
    bins[kk - 1] = hi;
    return bins;
  }
  function classify() {
    var idx = [], values = [];
    for (var i = 0; i < n; i++) {
      if (!excluded[i] && isFinite(R.score[i])) { idx.push(i); values.push(R.score[i]); }
    }
    if (!values.length) { return null; }
    var distinct = new Set(values).size;
    var kk = Math.max(1, Math.min(D.classes.k, distinct));
    var bins = D.classes.scheme === 'equalinterval' ? equalBins(values, kk)
      : (D.classes.scheme === 'quantiles' ? quantileBins(values, kk) : D.classes.bins);
    var cls = new Int32Array(n);
    idx.forEach(function (i) {
      var v = R.score[i], b = 0;
      while (b < bins.length - 1 && !(v <= bins[b])) { b++; }
      cls[i] = b + 1;
    });
    return {bins: bins, cls: cls, lower: Math.min.apply(null, values)};
  }
  var legendEntry = null;
  document.querySelectorAll('.foncier-legend-entry').forEach(function (e) {
    if (e.getAttribute('data-label') === D.legend_title) { legendEntry = e; }
  });
  function num(x) { return x.toFixed(1).replace('.', ','); }
  function drawLegend(c) {
    if (!legendEntry || !c) { return; }
    var box = legendEntry.querySelector('.foncier-classes');
    if (!box) { return; }
    var colors = D.classes.colors[String(c.bins.length)] || [];
    box.querySelectorAll('.foncier-class').forEach(function (e) { e.remove(); });
    var first = box.firstChild, low = c.lower;
    c.bins.forEach(function (up, j) {
      var row = document.createElement('div');
      row.className = 'foncier-class';
      row.setAttribute('data-upper', String(up));
      var sw = document.createElement('span');
      sw.className = 'foncier-box';
      sw.style.background = colors[j];
      row.appendChild(sw);
      row.appendChild(document.createTextNode(num(low) + ' – ' + num(up)));
      box.insertBefore(row, first);
      low = up;
    });
    var note = legendEntry.querySelector('.foncier-reclassed');
    if (!note) {
      note = document.createElement('div');
      note.className = 'foncier-reclassed';
      legendEntry.appendChild(note);
    }
    note.textContent = changed ? D.classes.note : '';
  }
  // Leaflet re-applies the layer's style function after a hover: make it read the colour of
  // the class in force.
  var pyStyle = geo ? geo.options.style : null;
  if (geo) {
    geo.options.style = function (f) {
      var st = pyStyle(f);
      return f.properties._fill ? Object.assign({}, st, {fillColor: f.properties._fill}) : st;
    };
  }
  function restyle(c) {
    if (!geo || !c) { return; }
    var colors = D.classes.colors[String(c.bins.length)] || [];
    for (var i = 0; i < n; i++) {
      var l = byRow[i];
      if (!l) { continue; }
      var p = l.feature.properties;
      p._v = Math.round(R.score[i] * 1e4) / 1e4;
      if (excluded[i] || !c.cls[i]) { continue; }
      var fill = colors[c.cls[i] - 1];
      if (p._fill !== fill) {
        p._fill = fill;
        l.setStyle(geo.options.style(l.feature));
      }
      var tip = label(i) + ' – rang ' + R.rank[i] + (R.exAequo[i] ? ' (ex aequo)' : '') +
        ', score ' + fr(R.score[i], 1);
      p._tooltip = changed ? escapeHtml(tip) : p._tip0;
    }
  }
  function drawBadges() {
    if (!badgesGroup) { return; }
    badgesGroup.clearLayers();
    // No badge "1" when the weights in force single out no site.
    if (R.diagnostics && !R.diagnostics.discriminates) { return; }
    R.order.slice(0, D.top_n).forEach(function (i) {
      var rank = R.rank[i];
      var icon = L.divIcon({
        html: D.badge[0] + rank + D.badge[1], iconSize: [24, 24], iconAnchor: [12, 12],
        className: 'foncier-rank-icon'
      });
      L.marker([pos[2 * i], pos[2 * i + 1]], {icon: icon, zIndexOffset: 1000})
        .bindTooltip(escapeHtml('Rang ' + rank + ' – ' + label(i) + ' · score ' + fr(R.score[i], 1)))
        .addTo(badgesGroup);
    });
  }

  // The "nothing stands out" banner and the ranking note, as foncier.reports.mapping writes
  // them; the note's lines after the diagnostics (relative scores …) are kept.
  var banner = document.querySelector('.foncier-notice[data-name="ranking"]');
  var rankingNote = null, noteKept = null;
  document.querySelectorAll('.foncier-note').forEach(function (e) {
    var sm = e.querySelector('summary');
    if (!rankingNote && sm && sm.textContent.indexOf('Classement : ') === 0) { rankingNote = e; }
  });
  function drawDiagnostics(g) {
    if (banner) {
      var list = banner.querySelector('ul');
      if (!list) {
        list = document.createElement('ul');
        list.style.cssText = 'margin:4px 0 0 14px;padding:0;text-align:left';
        banner.appendChild(list);
      }
      list.textContent = '';
      g.reasons.forEach(function (r) {
        var li = document.createElement('li');
        li.textContent = r;
        list.appendChild(li);
      });
      banner.style.display = g.discriminates ? 'none' : '';
    }
    if (rankingNote) {
      var ul = rankingNote.querySelector('ul');
      if (noteKept === null) {
        // Written by Python with the profile's weights: as many diagnostics lines as here.
        noteKept = Array.prototype.slice.call(ul.children, g.lines.length);
      }
      rankingNote.querySelector('summary').textContent = 'Classement : ' + g.message;
      ul.textContent = '';
      g.lines.forEach(function (t) {
        var li = document.createElement('li');
        li.textContent = t;
        ul.appendChild(li);
      });
      noteKept.forEach(function (li) { ul.appendChild(li); });
    }
  }

  // ---------------------------------------------------------------- the panel
  var panel = document.getElementById(D.panel_id);
  var sliders = {};
  var notice = '';  // a message that outlives the next refresh of the panel
  var share = {};
  function sharesText(w) {
    return crit.map(function (c, j) { return c.label + ' ' + fr(100 * w[j], 0) + ' %'; }).join(' · ');
  }
  function refreshPanel() {
    var w = R.weights;
    crit.forEach(function (c, j) {
      var s = sliders[c.id];
      s.value = String(points[c.id]);
      s.setAttribute('aria-valuetext', fr(100 * w[j], 0) + ' %');
      share[c.id].textContent = fr(100 * w[j], 0) + ' %';
    });
    panel.querySelector('.fw-summary').textContent = sharesText(w);
    panel.querySelector('.fw-state').textContent = notice || (changed ? D.text.changed : D.text.profile);
    notice = '';
  }
  function writeHash() {
    var h = changed ? '#poids=' + crit.map(function (c) {
      return encodeURIComponent(c.id) + ':' + points[c.id];
    }).join(',') : '';
    if (window.location.hash === h) { return; }
    // A page shown inside a notebook (srcdoc frame) may refuse both: the weights then stay
    // in the page only.
    try {
      window.history.replaceState(null, '', h || window.location.pathname + window.location.search);
    } catch (e) {
      try { window.location.hash = h; } catch (e2) { /* no address to write to */ }
    }
  }
  function update(fromUser) {
    var t0 = performance.now();
    var W = changed ? weightsFor(points) : defaultWeights();
    if (!W) {
      panel.querySelector('.fw-state').textContent = D.text.zero;
      return;
    }
    compute(W);
    var g = diagnose();
    var c = classify();
    var t1 = performance.now();
    restyle(c);
    drawLegend(c);
    drawBadges();
    drawDiagnostics(g);
    refreshPanel();
    if (map.closePopup) { map.closePopup(); }
    if (fromUser) { writeHash(); }
    R.ms = performance.now() - t0;
    // Scores, ranks and classes / redrawing the sites, legend, badges and panel.
    R.timing = {compute: t1 - t0, draw: R.ms - (t1 - t0)};
  }
  function readHash() {
    var m = /(?:^#|&)poids=([^&]*)/.exec(window.location.hash || '');
    if (!m) { return false; }
    var got = {}, ok = true;
    m[1].split(',').forEach(function (item) {
      var kv = item.split(':'), id = null, v = Number(kv[1]);
      try { id = decodeURIComponent(kv[0] || ''); } catch (e) { ok = false; return; }
      var c = crit.filter(function (cc) { return cc.id === id; })[0];
      if (!c || !(v >= 0 && v <= D.max_points) || Math.floor(v) !== v) { ok = false; return; }
      got[id] = v;
    });
    if (!ok) {
      notice = D.text.bad_hash;
      panel.querySelector('.fw-state').textContent = notice;
      return false;
    }
    Object.keys(got).forEach(function (id) { points[id] = got[id]; });
    changed = true;
    return true;
  }
  function toml() {
    var text = D.toml;
    allCrit.forEach(function (c, j) {
      text = text.split('@@weight' + j + '@@').join(String(points[c.id]));
    });
    return text;
  }

  crit.forEach(function (c) {
    sliders[c.id] = panel.querySelector('input[data-criterion="' + c.id + '"]');
    share[c.id] = panel.querySelector('[data-share="' + c.id + '"]');
    sliders[c.id].addEventListener('input', function () {
      points[c.id] = Number(this.value);
      changed = true;
      update(true);
    });
  });
  panel.querySelector('.fw-reset').addEventListener('click', function () {
    points = Object.assign({}, defaults);
    changed = false;
    update(true);
  });
  var copyBtn = panel.querySelector('.fw-copy');
  if (copyBtn) copyBtn.addEventListener('click', function () {
    var text = toml(), out = panel.querySelector('.fw-toml');
    out.value = text;
    out.style.display = 'block';
    out.select();
    var done = function () { panel.querySelector('.fw-state').textContent = D.text.copied; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () {
        panel.querySelector('.fw-state').textContent = D.text.copy_by_hand;
      });
    } else {
      panel.querySelector('.fw-state').textContent = D.text.copy_by_hand;
    }
  });
  var toggle = panel.querySelector('.fw-toggle');
  toggle.addEventListener('click', function () {
    var open = panel.classList.toggle('fw-open');
    toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  });
  L.DomEvent.disableClickPropagation(panel);
  L.DomEvent.disableScrollPropagation(panel);

  var fromHash = readHash();
  // Python drew the map with the profile's weights; recompute only if the link says otherwise.
  if (fromHash) { update(false); } else {
    compute(defaultWeights());
    diagnose();
    refreshPanel();
  }
  window.addEventListener('hashchange', function () {
    if (readHash()) { update(false); }
  });

  window.foncierWeights = {
    result: R,
    points: function () { return Object.assign({}, points); },
    changed: function () { return changed; },
    setPoints: function (pts) {
      Object.keys(pts).forEach(function (id) { points[id] = pts[id]; });
      changed = true;
      update(true);
      return R.ms;
    },
    toml: D.toml ? toml : function () { return null; }
  };
};
