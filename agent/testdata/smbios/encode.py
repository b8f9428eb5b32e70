#!/usr/bin/env python3
"""Re-encode SMBIOS tables as raw binary (the layout of /sys/firmware/dmi/tables/DMI).

asus-v241icr.bin: the values of a real ASUS V241IC-R all-in-one, taken from its
`dmidecode` output (public linux-hardware.org DMI dump), re-encoded field by field
per the SMBIOS 3.0 spec, including one of its OEM (type 221) structures verbatim.
lenovo-x1.bin: a ThinkPad-shaped table exercising UUID byte order, asset tags,
an empty memory slot and the extended-size field.
Run: python3 encode.py  (writes both files next to this script).
"""
import struct, uuid as uuidlib, os

def structure(kind, handle, body, strings):
    data = bytes([kind, 4 + len(body)]) + struct.pack("<H", handle) + body
    if strings:
        tail = b"".join(s.encode() + b"\0" for s in strings) + b"\0"
    else:
        tail = b"\0\0"
    return data + tail

def bios(h, vendor, version, date):
    body = bytes([1, 2]) + struct.pack("<H", 0xF000) + bytes([3, 0x7F]) + struct.pack("<Q", 0x0B_DA_99_80) + bytes([0x03, 0x0D, 4, 4, 0xFF, 0xFF])
    return structure(0, h, body, [vendor, version, date])

def system(h, mfr, product, version, serial, uuid, sku, family):
    u = uuidlib.UUID(uuid).bytes_le if uuid else b"\0" * 16
    body = bytes([1, 2, 3, 4]) + u + bytes([6, 5, 6])
    return structure(1, h, body, [mfr, product, version, serial, sku, family])

def board(h, mfr, product, version, serial, asset, location):
    body = bytes([1, 2, 3, 4, 5, 0x09, 6]) + struct.pack("<H", 3) + bytes([0x0A, 0])
    return structure(2, h, body, [mfr, product, version, serial, asset, location])

def chassis(h, mfr, ctype, version, serial, asset, sku):
    body = bytes([1, ctype, 2, 3, 4, 3, 3, 3, 2]) + struct.pack("<I", 0) + bytes([0, 1, 0, 3, 5])
    return structure(3, h, body, [mfr, version, serial, asset, sku])

def processor(h, socket, mfr, version, ext, maxs, cur, cores, threads, serial, asset, part):
    body = bytes([1, 3, 0xCD, 2]) + bytes.fromhex("EA060800FFFBEBBF") + bytes([3, 0x87]) + struct.pack("<HHH", ext, maxs, cur) + bytes([0x41, 0x3D]) + struct.pack("<HHH", 0xD, 0xE, 0xF) + bytes([4, 5, 6, cores, cores, threads]) + struct.pack("<HHHHH", 0xEC, 0xCD, cores, cores, threads)
    return structure(4, h, body, [socket, mfr, version, serial, asset, part])

def memdev(h, size_mb, ff, loc, bank, mtype, speed, mfr, serial, asset, part, ext_mb=0):
    body = struct.pack("<HHHHH", 8, 0xFFFE, 64, 64, size_mb) + bytes([ff, 0, 1, 2, mtype]) + struct.pack("<HH", 0x80, speed) + bytes([3, 4, 5, 6, 1]) + struct.pack("<IHHHH", ext_mb, speed, 1200, 1200, 1200)
    return structure(17, h, body, [loc, bank, mfr, serial, asset, part])

def end(h):
    return structure(127, h, b"", [])

asus = b"".join([
    bios(0, "American Megatrends Inc.", "0404", "03/26/2018"),
    system(1, "ASUSTeK COMPUTER INC.", "V241IC-R", "0404", "--", None, " ", "Vivo AIO"),
    board(2, "ASUSTeK COMPUTER INC.", "V241IC-R", "Rev 1.xx", "--", "--", "Default string"),
    chassis(3, "ASUSTeK COMPUTER INC.", 0x0D, "1.0       ", "--", "--", "NA"),
    memdev(9, 4096, 0x0D, "ChannelA-DIMM0", "BANK 0", 0x1A, 2400, "SK Hynix", "--", "--", "HMA851S6AFR6N-UH    "),
    memdev(10, 4096, 0x0D, "ChannelB-DIMM0", "BANK 2", 0x1A, 2400, "SK Hynix", "--", "--", "HMA851S6AFR6N-UH    "),
    processor(0x10, "BGA1356", "Intel(R) Corporation", "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", 100, 8300, 1600, 4, 8, "--", "--", "To Be Filled By O.E.M."),
    # OEM-specific type 221, header and data and strings verbatim from the dump.
    bytes.fromhex("DD1A2A0003010002020000000200000000840003000005000000") + b"Reference Code - CPU\0uCode Version\0TXT ACM version\0\0",
    end(0x34),
])

lenovo = b"".join([
    bios(0, "LENOVO", "N2HET77W (1.60 )", "02/06/2024"),
    system(1, "LENOVO", "20QDCTO1WW", "ThinkPad X1 Carbon 7th", "PF1ABCDE", "4c4c4544-0042-3510-8052-b4c04f4e3432", "LENOVO_MT_20QD_BU_Think_FM_ThinkPad X1 Carbon 7th", "ThinkPad X1 Carbon 7th"),
    board(2, "LENOVO", "20QDCTO1WW", "SDK0J40697 WIN", "L1HF9AB01CD", "Not Available", "Not Available"),
    chassis(3, "LENOVO", 0x0A, "None", "PF1ABCDE", "IT-004217", "Notebook"),
    processor(4, "U3E1", "Intel(R) Corporation", "Intel(R) Core(TM) i7-8665U CPU @ 1.90GHz", 100, 4800, 1900, 4, 8, "None", "None", "None"),
    memdev(5, 8192, 0x0B, "ChannelA-DIMM0", "BANK 0", 0x1D, 2133, "Samsung", "00000000", "None", "K4E6E304EB-EGCF"),
    memdev(6, 0x7FFF, 0x0B, "ChannelB-DIMM0", "BANK 2", 0x1D, 2133, "Samsung", "3A1B2C4D", "None", "K4E6E304EB-EGCF", ext_mb=16384),
    memdev(7, 0, 0x02, "ChannelC-DIMM0", "BANK 4", 0x02, 0, "[Empty]", "[Empty]", "[Empty]", "[Empty]"),
    end(8),
])

here = os.path.dirname(os.path.abspath(__file__))
open(os.path.join(here, "asus-v241icr.bin"), "wb").write(asus)
open(os.path.join(here, "lenovo-x1.bin"), "wb").write(lenovo)
