#!/usr/bin/env bash
# The simulator under attack and loss: 30% corrupting visitors and 2% loss (every honest visitor
# completes, no wrong byte delivered, corrupting visitors banned, no honest one banned), spoofed
# source addresses (what reaches the victim stays within 3x of what the spoofers sent), and the
# competing TCP flow's share.
set -u
. "$(dirname "$0")/sim_lib.sh"

j=$(sim_json --n 30 --profile broadband --corrupt 0.3 --loss 0.02 --seed 5)
check "corrupt 30% + loss 2%: every honest visitor completes" \
    'completed_fraction == 1 && honest == 21 && corrupt_peers == 9' "$j" completed_fraction \
    honest corrupt_peers
check "corrupt 30% + loss 2%: zero wrong bytes delivered" 'wrong_bytes_delivered == 0' "$j" \
    wrong_bytes_delivered
check "corrupt 30% + loss 2%: corrupting visitors banned, honest ones not" \
    'corrupt_banned >= 1 && bans >= corrupt_banned && bans_of_honest == 0' "$j" corrupt_banned \
    bans bans_of_honest
check "corrupt 30% + loss 2%: the network lost packets" 'lost > 0' "$j" lost
check "corrupt 30% + loss 2%: more than 90% of the overlay turned over within 10 s" \
    'max_turnover_10s > 0.9' "$j" max_turnover_10s

j=$(sim_json --n 12 --profile dsl --spoof 4 --seed 5)
check "spoofing: the honest crowd still completes" \
    'completed_fraction == 1 && wrong_bytes_delivered == 0' "$j" completed_fraction \
    wrong_bytes_delivered
check "spoofing: the spoofers sent forged datagrams" 'spoof_sent_bytes > 0' "$j" spoof_sent_bytes
check "spoofing: the victim receives at most 3x what was forged" 'victim_bytes <= 3 * spoof_sent_bytes' \
    "$j" victim_bytes spoof_sent_bytes

j=$(sim_json --n 16 --profile dsl --tcp --linger 20 --seed 5)
check "tcp competitor: measured against itself alone" \
    'tcp_rate_alone > 0 && tcp_window_s > 10 && completed_fraction == 1' "$j" tcp_rate_alone \
    tcp_window_s completed_fraction
echo "# tcp share with the crowd: $(field "$j" tcp_share)"
check "tcp competitor: not starved (share >= 0.25 of its rate alone)" 'tcp_share >= 0.25' "$j" \
    tcp_share
