#!/usr/bin/env python3
"""Writes a small CSV of flow records in the shape of CIC-IDS2017's CICFlowMeter files, with a port scan and a DDoS
in it, for DAIS's flow input (traffic.source = flows(...)) and its tests. No data set can be downloaded where DAIS
is built and tested, so this stands in for one: same 85 columns, same header (leading spaces, the duplicated
"Fwd Header Length"), text columns (flow id, IPs, timestamp), and the Infinity and NaN cells that zero-length flows
give CICFlowMeter's rates. Values are drawn from simple distributions per label, not from real traffic.

    python3 tools/cicflow_sample.py --rows 60000 --out flows.csv [--seed 7]

Rows are in time order: benign throughout; the port scan (label PortScan) in the 40-60% stretch of the file, the
DDoS (label DDoS) in the 65-85% stretch, each as about a third of the flows there. Standard library only.
"""

import argparse
import csv
import math
import random

# CIC-IDS2017's TrafficLabelling header, spaces as the files have them.
HEADER = (
    "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration,"
    " Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets,"
    " Fwd Packet Length Max, Fwd Packet Length Min, Fwd Packet Length Mean, Fwd Packet Length Std,"
    "Bwd Packet Length Max, Bwd Packet Length Min, Bwd Packet Length Mean, Bwd Packet Length Std,Flow Bytes/s,"
    " Flow Packets/s, Flow IAT Mean, Flow IAT Std, Flow IAT Max, Flow IAT Min,Fwd IAT Total, Fwd IAT Mean,"
    " Fwd IAT Std, Fwd IAT Max, Fwd IAT Min,Bwd IAT Total, Bwd IAT Mean, Bwd IAT Std, Bwd IAT Max, Bwd IAT Min,"
    "Fwd PSH Flags, Bwd PSH Flags, Fwd URG Flags, Bwd URG Flags, Fwd Header Length, Bwd Header Length,"
    "Fwd Packets/s, Bwd Packets/s, Min Packet Length, Max Packet Length, Packet Length Mean, Packet Length Std,"
    " Packet Length Variance,FIN Flag Count, SYN Flag Count, RST Flag Count, PSH Flag Count, ACK Flag Count,"
    " URG Flag Count, CWE Flag Count, ECE Flag Count, Down/Up Ratio, Average Packet Size, Avg Fwd Segment Size,"
    " Avg Bwd Segment Size, Fwd Header Length,Fwd Avg Bytes/Bulk, Fwd Avg Packets/Bulk, Fwd Avg Bulk Rate,"
    " Bwd Avg Bytes/Bulk, Bwd Avg Packets/Bulk,Bwd Avg Bulk Rate,Subflow Fwd Packets, Subflow Fwd Bytes,"
    " Subflow Bwd Packets, Subflow Bwd Bytes,Init_Win_bytes_forward, Init_Win_bytes_backward, act_data_pkt_fwd,"
    " min_seg_size_forward,Active Mean, Active Std, Active Max, Active Min,Idle Mean, Idle Std, Idle Max,"
    " Idle Min, Label"
).split(",")
assert len(HEADER) == 85, len(HEADER)


def short(x):
    """A float as the files mostly hold them: integral values without decimals, others to 6 significant digits."""
    return int(x) if x == int(x) else float(f"{x:.6g}")


def stats(values):
    if not values:
        return 0, 0, 0, 0
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return max(values), min(values), short(mean), short(std)


def rate(amount, micros):
    """CICFlowMeter's per-second rate: Infinity over a zero duration, NaN for 0/0."""
    if micros == 0:
        return "NaN" if amount == 0 else "Infinity"
    return short(amount / (micros / 1e6))


def flow(rng, src, sport, dst, dport, proto, stamp, duration, fwd, bwd, label, syn=0, win=(8192, 229)):
    """One row from a flow's packet sizes (lists) and duration in microseconds."""
    fwd_bytes, bwd_bytes = sum(fwd), sum(bwd)
    packets = len(fwd) + len(bwd)
    fmax, fmin, fmean, fstd = stats(fwd)
    bmax, bmin, bmean, bstd = stats(bwd)
    amax, amin, amean, astd = stats(fwd + bwd)
    gaps = [rng.expovariate(1.0) for _ in range(max(packets - 1, 0))]
    total = sum(gaps) or 1.0
    iats = [int(duration * g / total) for g in gaps]
    imax, imin, imean, istd = stats(iats)
    header_fwd, header_bwd = 20 * len(fwd), 20 * len(bwd)
    return [
        f"{src}-{dst}-{sport}-{dport}-{proto}", src, sport, dst, dport, proto, stamp, duration,
        len(fwd), len(bwd), fwd_bytes, bwd_bytes, fmax, fmin, fmean, fstd, bmax, bmin, bmean, bstd,
        rate(fwd_bytes + bwd_bytes, duration), rate(packets, duration),
        imean, istd, imax, imin, sum(iats), imean, istd, imax, imin, 0, 0, 0, 0, 0,
        0, 0, 0, 0, header_fwd, header_bwd, rate(len(fwd), duration), rate(len(bwd), duration),
        amin, amax, amean, astd, short(astd * astd), 0, syn, 0, int(bool(bwd)), int(bool(bwd)), 0, 0, 0,
        len(bwd) // max(len(fwd), 1), short((fwd_bytes + bwd_bytes) / max(packets, 1)), fmean, bmean, header_fwd,
        0, 0, 0, 0, 0, 0, len(fwd), fwd_bytes, len(bwd), bwd_bytes, win[0], win[1], max(len(fwd) - 1, 0), 20,
        0, 0, 0, 0, 0, 0, 0, 0, label,
    ]


def benign(rng, stamp):
    client = f"192.168.10.{rng.randint(2, 40)}"
    server = rng.choice(["104.16.207.165", "172.217.10.98", "192.168.10.3", "23.194.142.15", "8.8.8.8"])
    dport = rng.choice([443, 443, 443, 80, 53, 22, 8080])
    duration = 0 if rng.random() < 0.01 else int(rng.lognormvariate(11.0, 2.0))
    fwd = [rng.randint(40, 900) for _ in range(rng.randint(1, 20))]
    bwd = [rng.randint(40, 1460) for _ in range(rng.randint(0, 25))]
    return flow(rng, client, rng.randint(1024, 65535), server, dport, 6 if dport != 53 else 17, stamp,
                duration, fwd, bwd, "BENIGN", win=(rng.choice([8192, 29200, 65535]), rng.choice([229, 2081, 28960])))


def port_scan(rng, stamp):
    # One scanner, one victim, every port: one SYN out, at most a reset back, in no time at all.
    duration = 0 if rng.random() < 0.3 else rng.randint(1, 90)
    bwd = [0] if rng.random() < 0.6 else []
    return flow(rng, "172.16.0.1", rng.randint(33000, 61000), "192.168.10.50", rng.randint(1, 65535), 6, stamp,
                duration, [0], bwd, "PortScan", syn=1, win=(1024, 0))


def ddos(rng, stamp):
    # Many bots, one web server: short bursts of large requests, few answers.
    bot = f"172.16.{rng.randint(0, 3)}.{rng.randint(1, 254)}"
    fwd = [rng.randint(1000, 1460) for _ in range(rng.randint(3, 8))]
    bwd = [rng.randint(0, 60) for _ in range(rng.randint(0, 2))]
    return flow(rng, bot, rng.randint(1024, 65535), "192.168.10.50", 80, 6, stamp,
                rng.randint(500, 5000), fwd, bwd, "DDoS", win=(rng.choice([256, 512]), -1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60000, help="data rows to write (default 60000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", required=True, help="the CSV file to write")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(args.rows):
            at = i / args.rows
            stamp = f"7/7/2017 {9 + int(8 * at)}:{int(480 * at) % 60:02d}"
            if 0.4 <= at < 0.6 and rng.random() < 0.35:
                row = port_scan(rng, stamp)
            elif 0.65 <= at < 0.85 and rng.random() < 0.35:
                row = ddos(rng, stamp)
            else:
                row = benign(rng, stamp)
            writer.writerow(row)


if __name__ == "__main__":
    main()
