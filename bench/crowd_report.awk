# crowd_report.awk: turns bench/crowd.sh's result lines into the printed tables, crowd.json and
# crowd.svg. Input, one line per (system, N):
#   system n status completed failed makespan mean median max spread origin_bytes client_bytes
#   cpu_idle_pct ("-" where unknown). Variables: F (page bytes), US (origin uplink, bit/s), UP (each peer's
# uplink, bit/s, 0 = unbounded), nobj, site, rate, peerup, ns, systems, date, json, svg.

function tmin(n) { # Kumar & Ross with unbounded downlinks: max(F/u_s, N F/(u_s + N u))
    t = F * 8 / US
    if (UP > 0 && n * F * 8 / (US + n * UP) > t)
        t = n * F * 8 / (US + n * UP)
    return t
}
function cs(n) { return n * F * 8 / US }
function have(s, n) { return ((s, n) in mk) && mk[s, n] != "-" }
function ratio(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
function num(x) { return (x == "-" || x == "") ? "null" : x }
function share(s, n) {
    if (!((s, n) in ob) || ob[s, n] == "-" || cb[s, n] + 0 == 0)
        return "-"
    return sprintf("%.1f", 100 * ob[s, n] / cb[s, n])
}
function lg(x) { return log(x) / log(10) }
function px(n) { return X0 + (W - X0 - 20) * (log(n) - lxmin) / (lxmax - lxmin) }
function py(t) { return H - 50 - (H - 50 - 30) * (lg(t) - lymin) / (lymax - lymin) }

{
    sys[$1] = 1
    key = $1 SUBSEP $2
    st[key] = $3; done[key] = $4; fail[key] = $5
    mk[key] = $6; mean[key] = $7; med[key] = $8; mx[key] = $9; spread[key] = $10
    ob[key] = $11; cb[key] = $12; idle[key] = (NF >= 13 ? $13 : "-")
}

END {
    nn = split(ns, N, " ")
    ns_sys = split(systems, S, " ")
    printf "\nFlash crowd: %d files, %d bytes (%s); origin uplink %s; peer uplinks %s;\n", nobj, F, site, rate, peerup
    printf "burst arrivals, every client leaves on completion. Times in seconds; noisy (2 shared cores).\n"
    printf "T_min = max(F/u_s, N*F/(u_s + N*u_peer)) with unbounded downlinks; C-S = N*F/u_s.\n\n"
    printf "%5s %7s %7s", "N", "T_min", "C-S"
    for (j = 1; j <= ns_sys; j++)
        printf " | %-10s %8s %7s %7s %7s", S[j], "makespan", "mean", "done", "origin%"
    printf "\n"
    for (i = 1; i <= nn; i++) {
        n = N[i]
        printf "%5d %7.1f %7.1f", n, tmin(n), cs(n)
        for (j = 1; j <= ns_sys; j++) {
            s = S[j]; k = s SUBSEP n
            if (!(k in st)) { printf " | %-10s %8s %7s %7s %7s", "", "-", "-", "-", "-"; continue }
            if (st[k] == "not-built") { printf " | %-10s %8s %7s %7s %7s", "", "n/a", "n/a", "n/a", "n/a"; continue }
            printf " | %-10s %8s %7s %7s %7s", "", mk[k], mean[k], done[k] "/" n, share(s, n)
        }
        printf "\n"
    }
    printf "\nRatios of makespans (lower first: how many times longer)\n"
    printf "%5s %11s %11s %11s %11s %11s %11s %11s\n", "N", "nginx/Tmin", "bt/Tmin", "fb/Tmin",
        "nginx/bt", "nginx/fb", "bt/fb", "nginx/C-S"
    for (i = 1; i <= nn; i++) {
        n = N[i]
        a = have("nginx", n) ? mk["nginx", n] : "-"
        b = have("bittorrent", n) ? mk["bittorrent", n] : "-"
        c = have("flashback", n) ? mk["flashback", n] : "-"
        printf "%5d %11s %11s %11s %11s %11s %11s %11s\n", n, ratio(a, tmin(n)), ratio(b, tmin(n)),
            ratio(c, tmin(n)), ratio(a, b), ratio(a, c), ratio(b, c), ratio(a, cs(n))
    }

    printf "\nMachine-wide CPU idle during each run (near 0: CPU-bound, times inflated by the machine):\n"
    for (j = 1; j <= ns_sys; j++) {
        line = ""
        for (i = 1; i <= nn; i++) { k = S[j] SUBSEP N[i]; if ((k in idle) && idle[k] != "-") line = line sprintf(" N=%d: %s%%", N[i], idle[k]) }
        if (line != "") printf "  %-10s%s\n", S[j], line
    }

    # JSON
    printf "{\n  \"date\": \"%s\",\n  \"setup\": {\"site\": \"%s\", \"files\": %d, \"page_bytes\": %d, ", date, site, nobj, F >json
    printf "\"origin_uplink_bps\": %d, \"peer_uplink_bps\": %s, \"peer_downlink_bps\": null, ", US, (UP > 0 ? UP : "null") >json
    printf "\"arrivals\": \"burst\", \"leave\": \"on completion\"},\n  \"runs\": [" >json
    first = 1
    for (i = 1; i <= nn; i++) for (j = 1; j <= ns_sys; j++) {
        n = N[i]; s = S[j]; k = s SUBSEP n
        if (!(k in st)) continue
        printf "%s\n    {\"system\": \"%s\", \"n\": %d, \"status\": \"%s\", \"completed\": %s, \"failed\": %s, ",
            (first ? "" : ","), s, n, st[k], num(done[k]), num(fail[k]) >json
        printf "\"makespan_s\": %s, \"mean_s\": %s, \"median_s\": %s, \"max_s\": %s, \"arrival_spread_s\": %s, ",
            num(mk[k]), num(mean[k]), num(med[k]), num(mx[k]), num(spread[k]) >json
        printf "\"origin_bytes\": %s, \"client_bytes\": %s, \"origin_share\": %s, ",
            num(ob[k]), num(cb[k]), (share(s, n) == "-" ? "null" : sprintf("%.4f", ob[k] / cb[k])) >json
        printf "\"makespan_over_t_min\": %s, \"cpu_idle_pct\": %s}", num(ratio(have(s, n) ? mk[k] : "-", tmin(n))), num(idle[k]) >json
        first = 0
    }
    printf "\n  ],\n  \"per_n\": [" >json
    for (i = 1; i <= nn; i++) {
        n = N[i]
        a = have("nginx", n) ? mk["nginx", n] : "-"
        b = have("bittorrent", n) ? mk["bittorrent", n] : "-"
        c = have("flashback", n) ? mk["flashback", n] : "-"
        printf "%s\n    {\"n\": %d, \"t_min_s\": %.3f, \"client_server_s\": %.3f, ", (i > 1 ? "," : ""), n, tmin(n), cs(n) >json
        printf "\"nginx_over_bittorrent\": %s, \"nginx_over_flashback\": %s, \"bittorrent_over_flashback\": %s}",
            num(ratio(a, b)), num(ratio(a, c)), num(ratio(b, c)) >json
    }
    printf "\n  ]\n}\n" >json
    close(json)

    # SVG: completion time against N, log-log; makespan solid with dots, mean dashed.
    W = 760; H = 500; X0 = 70
    xmin = N[1]; xmax = N[1]
    for (i = 1; i <= nn; i++) { if (N[i] < xmin) xmin = N[i]; if (N[i] > xmax) xmax = N[i] }
    lxmin = log(xmin / 1.25); lxmax = log(xmax * 1.25)
    ymin = tmin(xmin); ymax = cs(xmax)
    for (k in mk) if (mk[k] != "-") { if (mk[k] + 0 > ymax) ymax = mk[k] + 0; if (mean[k] + 0 < ymin && mean[k] + 0 > 0) ymin = mean[k] + 0 }
    lymin = lg(ymin / 1.5); lymax = lg(ymax * 1.5)
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H >svg
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n" >svg
    printf "<text x=\"%d\" y=\"18\" font-size=\"14\">Flash crowd: completion time against N (%d bytes, origin %s, peers up %s)</text>\n", X0, F, rate, peerup >svg
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", X0, H - 50, W - 20, H - 50 >svg
    printf "<line x1=\"%d\" y1=\"30\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", X0, X0, H - 50 >svg
    for (i = 1; i <= nn; i++) {
        printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", px(N[i]), 30, px(N[i]), H - 50 >svg
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", px(N[i]), H - 34, N[i] >svg
    }
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">N (clients, log scale)</text>\n", (X0 + W) / 2, H - 12 >svg
    for (e = -1; e <= 4; e++) {
        split("1 2 5", m, " ")
        for (q = 1; q <= 3; q++) {
            t = m[q] * 10 ^ e
            if (lg(t) < lymin || lg(t) > lymax) continue
            printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n", X0, py(t), W - 20, py(t) >svg
            printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", X0 - 6, py(t) + 4, t >svg
        }
    }
    printf "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\">seconds (log scale)</text>\n", H / 2 >svg
    # reference curves
    pts = ""; for (i = 1; i <= nn; i++) pts = pts sprintf("%.1f,%.1f ", px(N[i]), py(tmin(N[i])))
    printf "<polyline points=\"%s\" fill=\"none\" stroke=\"#555\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n", pts >svg
    pts = ""; for (i = 1; i <= nn; i++) pts = pts sprintf("%.1f,%.1f ", px(N[i]), py(cs(N[i])))
    printf "<polyline points=\"%s\" fill=\"none\" stroke=\"#999\" stroke-width=\"1.5\" stroke-dasharray=\"2,3\"/>\n", pts >svg
    color["nginx"] = "#d62728"; color["bittorrent"] = "#1f77b4"; color["flashback"] = "#2ca02c"
    for (j = 1; j <= ns_sys; j++) {
        s = S[j]; pts = ""; pm = ""
        for (i = 1; i <= nn; i++) if (have(s, N[i])) {
            pts = pts sprintf("%.1f,%.1f ", px(N[i]), py(mk[s, N[i]]))
            pm = pm sprintf("%.1f,%.1f ", px(N[i]), py(mean[s, N[i]]))
            printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%s N=%d makespan %s s, mean %s s</title></circle>\n",
                px(N[i]), py(mk[s, N[i]]), color[s], s, N[i], mk[s, N[i]], mean[s, N[i]] >svg
        }
        if (pts != "") {
            printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, color[s] >svg
            printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1\" stroke-dasharray=\"4,3\"/>\n", pm, color[s] >svg
        }
    }
    ly = 40
    for (j = 1; j <= ns_sys; j++) {
        s = S[j]; label = s
        got = 0; for (i = 1; i <= nn; i++) if (have(s, N[i])) got = 1
        if (!got) label = s " (n/a)"
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>", X0 + 15, ly, X0 + 45, ly, color[s] >svg
        printf "<text x=\"%d\" y=\"%d\">%s: makespan (solid), mean (dashed)</text>\n", X0 + 52, ly + 4, label >svg
        ly += 18
    }
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>", X0 + 15, ly, X0 + 45, ly >svg
    printf "<text x=\"%d\" y=\"%d\">T_min</text>\n", X0 + 52, ly + 4 >svg
    ly += 18
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\" stroke-width=\"1.5\" stroke-dasharray=\"2,3\"/>", X0 + 15, ly, X0 + 45, ly >svg
    printf "<text x=\"%d\" y=\"%d\">client-server N*F/u_s</text>\n", X0 + 52, ly + 4 >svg
    printf "</svg>\n" >svg
    close(svg)
}
