# Reads `flashback sim --json` lines and writes an SVG: one panel per profile, completion time
# (mean and makespan) against N on log2/log10 axes, with the T_min and client-server curves.
function get(s, key,    v) {
    if (!match(s, "\"" key "\":[^,}]*")) return ""
    v = substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    gsub(/"/, "", v)
    return v
}
function lg10(x) { return log(x) / log(10) }
function px(n) { return X0 + (log(n) / log(2)) / XMAX * PW }
function py(t) { if (t < YMIN) t = YMIN; if (t > YMAX) t = YMAX
    return Y0 + PH - (lg10(t) - lg10(YMIN)) / (lg10(YMAX) - lg10(YMIN)) * PH }
function path(p, arr, color, dash,    j, d, k) {
    d = ""
    for (j = 1; j <= cnt[p]; j++) {
        k = p SUBSEP j
        if (arr[k] <= 0) continue
        d = d (d == "" ? "M" : " L") sprintf("%.1f,%.1f", px(N[k]), py(arr[k]))
    }
    if (d != "")
        printf "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", d, color, \
            dash == "" ? "" : " stroke-dasharray=\"" dash "\""
}
{
    p = get($0, "profile")
    if (!(p in seen)) { seen[p] = 1; order[++np] = p }
    k = p SUBSEP (++cnt[p])
    N[k] = get($0, "n") + 0; TM[k] = get($0, "t_min") + 0; CS[k] = get($0, "t_client_server") + 0
    MX[k] = get($0, "max") + 0; ME[k] = get($0, "mean") + 0
    if (N[k] > maxn) maxn = N[k]
}
END {
    PW = 420; PH = 300; XMAX = log(maxn > 1 ? maxn : 2) / log(2)
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"400\" " \
        "font-family=\"sans-serif\" font-size=\"11\">\n", np * 520 + 20
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    for (i = 1; i <= np; i++) {
        p = order[i]
        X0 = 70 + (i - 1) * 520; Y0 = 40
        YMIN = 1e9; YMAX = 0
        for (j = 1; j <= cnt[p]; j++) {
            k = p SUBSEP j
            if (TM[k] > 0 && TM[k] < YMIN) YMIN = TM[k]
            if (ME[k] > 0 && ME[k] < YMIN) YMIN = ME[k]
            if (CS[k] > YMAX) YMAX = CS[k]
            if (MX[k] > YMAX) YMAX = MX[k]
        }
        YMIN = 10 ^ int(lg10(YMIN) - (YMIN < 1 ? 1 : 0)); YMAX = 10 ^ (int(lg10(YMAX)) + 1)
        printf "<text x=\"%d\" y=\"24\" font-size=\"14\">%s: completion time vs N " \
            "(burst, leave on completion)</text>\n", X0, p
        printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", \
            X0, Y0, PW, PH
        for (e = 0; e <= XMAX; e++) {
            x = X0 + e / XMAX * PW
            printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", x, Y0, x, Y0 + PH
            printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, Y0 + PH + 14, 2 ^ e
        }
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">visitors N (log2)</text>\n", \
            X0 + PW / 2, Y0 + PH + 30
        for (t = YMIN; t <= YMAX * 1.001; t *= 10) {
            for (f = 1; f <= 5; f += (f == 1 ? 1 : 3)) {
                if (t * f > YMAX * 1.001) break
                y = py(t * f)
                printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", \
                    X0, y, X0 + PW, y, f == 1 ? "#ddd" : "#f3f3f3"
                printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g s</text>\n", X0 - 4, y + 4, t * f
            }
        }
        path(p, CS, "#999", "2,4"); path(p, TM, "#000", "6,4")
        path(p, ME, "#1f77b4", ""); path(p, MX, "#d62728", "")
        ly = Y0 + PH + 46
        printf "<g font-size=\"11\">"
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d62728\" stroke-width=\"2\"/>" \
            "<text x=\"%d\" y=\"%d\">makespan</text>", X0, ly, X0 + 20, ly, X0 + 24, ly + 4
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" stroke-width=\"2\"/>" \
            "<text x=\"%d\" y=\"%d\">mean</text>", X0 + 90, ly, X0 + 110, ly, X0 + 114, ly + 4
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\" stroke-width=\"2\" " \
            "stroke-dasharray=\"6,4\"/><text x=\"%d\" y=\"%d\">T_min (Kumar-Ross)</text>", \
            X0 + 160, ly, X0 + 180, ly, X0 + 184, ly + 4
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\" stroke-width=\"2\" " \
            "stroke-dasharray=\"2,4\"/><text x=\"%d\" y=\"%d\">client-server</text></g>\n", \
            X0 + 300, ly, X0 + 320, ly, X0 + 324, ly + 4
    }
    print "</svg>"
}
