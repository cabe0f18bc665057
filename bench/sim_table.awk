# Reads `flashback sim --json` lines and prints one table per profile: the bound, the
# client-server time, the measured completion times and their ratios to T_min, the origin's share
# of the bytes, and the growth of the completion time per doubling of the crowd.
function get(s, key,    v) {
    if (!match(s, "\"" key "\":[^,}]*")) return ""
    v = substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    gsub(/"/, "", v)
    return v
}
{
    p = get($0, "profile"); n = get($0, "n") + 0
    if (!(p in seen)) { seen[p] = 1; order[++np] = p }
    k = p SUBSEP (++cnt[p])
    N[k] = n; TM[k] = get($0, "t_min"); CS[k] = get($0, "t_client_server")
    MX[k] = get($0, "max"); ME[k] = get($0, "mean"); OS[k] = get($0, "origin_share")
    CF[k] = get($0, "completed_fraction"); W[k] = get($0, "wall_seconds")
    WB[k] = get($0, "wrong_bytes_delivered")
}
END {
    for (i = 1; i <= np; i++) {
        p = order[i]
        printf "\nprofile %s (burst, leave on completion; times in seconds)\n", p
        printf "%6s %8s %9s %9s %8s %8s %7s %7s %7s %9s %5s %8s\n", "N", "T_min", "clt-srv", \
            "makespan", "mean", "mks/Tmin", "mean/T", "origin%", "done%", "dmean/dbl", "wrong", "wall_s"
        sx = sy = sxx = sxy = m = 0; worst_mk = worst_me = 0
        for (j = 1; j <= cnt[p]; j++) {
            k = p SUBSEP j
            g = "-"
            if (j > 1) { g = sprintf("%+.2f", ME[k] - ME[p SUBSEP (j - 1)]) }
            printf "%6d %8.2f %9.2f %9.2f %8.2f %8.2f %7.2f %7.1f %7.1f %9s %5d %8.2f\n", N[k], TM[k], \
                CS[k], MX[k], ME[k], MX[k] / TM[k], ME[k] / TM[k], 100 * OS[k], 100 * CF[k], g, WB[k], W[k]
            if (N[k] >= 16) {
                x = log(N[k]) / log(2); y = ME[k]
                sx += x; sy += y; sxx += x * x; sxy += x * y; m++
                if (MX[k] / TM[k] > worst_mk) worst_mk = MX[k] / TM[k]
                if (ME[k] / TM[k] > worst_me) worst_me = ME[k] / TM[k]
            }
        }
        if (m >= 2) {
            slope = (m * sxy - sx * sy) / (m * sxx - sx * sx)
            printf "N >= 16: mean completion grows %.2f s per doubling (least squares); " \
                "worst makespan/T_min %.2f (goal 1.5), worst mean/T_min %.2f (goal 1.2)\n", \
                slope, worst_mk, worst_me
        }
    }
}
