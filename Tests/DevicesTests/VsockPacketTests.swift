import Devices
import TestSupport
import Testing

/// A vsock header reads back exactly what was written, field by field, at the offsets of
/// `struct virtio_vsock_hdr`; a packet from the guest is checked in full — source, destination,
/// type, operation, payload length and flags — and each malformed field is refused by name.
/// Credit: the device never sends more than the guest's free buffer, never accepts more than
/// its own, and counters wrap at 2^32 as on the wire.
@Suite struct VsockPacketTests {
    let guest: UInt64 = 3

    func header(_ operation: VirtioVsock.Operation, length: UInt32 = 0, flags: UInt32 = 0) -> VsockPacketHeader {
        VsockPacketHeader(
            sourceCID: guest, destinationCID: VirtioVsock.hostCID, sourcePort: 1234, destinationPort: 52,
            length: length, operation: operation.rawValue, flags: flags, bufferAllocation: 65536, forwardCount: 7)
    }

    @Test func fieldsSitAtTheSpecificationsOffsets() throws {
        let h = VsockPacketHeader(
            sourceCID: 0x0102_0304_0506_0708, destinationCID: 2, sourcePort: 0x1112_1314, destinationPort: 0x2122_2324,
            length: 0x3132_3334, type: 1, operation: 5, flags: 0x4142_4344, bufferAllocation: 0x5152_5354,
            forwardCount: 0x6162_6364)
        let bytes = h.bytes
        #expect(bytes.count == 44)
        #expect(Array(bytes[0..<8]) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(Array(bytes[8..<16]) == [2, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[16..<20]) == [0x14, 0x13, 0x12, 0x11])
        #expect(Array(bytes[20..<24]) == [0x24, 0x23, 0x22, 0x21])
        #expect(Array(bytes[24..<28]) == [0x34, 0x33, 0x32, 0x31])
        #expect(Array(bytes[28..<32]) == [1, 0, 5, 0])
        #expect(Array(bytes[32..<36]) == [0x44, 0x43, 0x42, 0x41])
        #expect(Array(bytes[36..<40]) == [0x54, 0x53, 0x52, 0x51])
        #expect(Array(bytes[40..<44]) == [0x64, 0x63, 0x62, 0x61])
        #expect(try VsockPacketHeader(bytes) == h)
        #expect(try VsockPacketHeader(bytes + [9, 9]) == h, "bytes past the header are the payload's")
    }

    @Test func randomHeadersRoundTrip() throws {
        var rng = SeededGenerator(seed: 19)
        for _ in 0..<1000 {
            let bytes = (0..<44).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(try VsockPacketHeader(bytes).bytes == bytes)
        }
    }

    @Test(arguments: [0, 1, 43]) func aShortHeaderIsRefused(count: Int) {
        #expect(throws: VsockPacketError.shortHeader(count)) {
            try VsockPacketHeader([UInt8](repeating: 0, count: count))
        }
    }

    @Test func everyOperationTheGuestMaySendPasses() throws {
        for op in VirtioVsock.Operation.allCases {
            let length: UInt32 = op == .readWrite ? 4096 : 0
            let flags: UInt32 = op == .shutdown ? 3 : 0
            #expect(try header(op, length: length, flags: flags).validate(guestCID: guest, maxPayload: 4096) == op)
        }
    }

    @Test func eachMalformedFieldIsRefusedByName() {
        var h = header(.readWrite, length: 10)
        h.sourceCID = 4
        #expect(throws: VsockPacketError.wrongSource(4)) { try h.validate(guestCID: guest, maxPayload: 4096) }
        h = header(.request)
        h.destinationCID = 1
        #expect(throws: VsockPacketError.wrongDestination(1)) { try h.validate(guestCID: guest, maxPayload: 4096) }
        h = header(.request)
        h.type = 2
        #expect(throws: VsockPacketError.unsupportedType(2)) { try h.validate(guestCID: guest, maxPayload: 4096) }
        for op: UInt16 in [0, 8, 0xFFFF] {
            h = header(.request)
            h.operation = op
            #expect(throws: VsockPacketError.unknownOperation(op)) { try h.validate(guestCID: guest, maxPayload: 4096) }
        }
        #expect(throws: VsockPacketError.payloadTooLarge(4097, limit: 4096)) {
            try header(.readWrite, length: 4097).validate(guestCID: guest, maxPayload: 4096)
        }
        #expect(throws: VsockPacketError.unexpectedPayload(1, .request)) {
            try header(.request, length: 1).validate(guestCID: guest, maxPayload: 4096)
        }
        #expect(throws: VsockPacketError.invalidFlags(4)) {
            try header(.shutdown, flags: 4).validate(guestCID: guest, maxPayload: 4096)
        }
    }

    @Test func theDeviceNeverSendsMoreThanTheGuestHasRoomFor() {
        var credit = VsockCredit(bufferAllocation: 1000)
        #expect(credit.peerFree == 0, "nothing is known of the guest's buffer yet")
        credit.update(peerBufferAllocation: 300, peerForwardCount: 0)
        #expect(credit.peerFree == 300)
        credit.sent(200)
        #expect(credit.peerFree == 100)
        credit.update(peerBufferAllocation: 300, peerForwardCount: 150)
        #expect(credit.peerFree == 250)
        credit.update(peerBufferAllocation: 40, peerForwardCount: 150)  // the guest shrank its buffer
        #expect(credit.peerFree == 0)
        // A fwd_cnt ahead of what was sent is nothing in flight — never more than the buffer.
        credit.update(peerBufferAllocation: 300, peerForwardCount: 5000)
        #expect(credit.peerFree == 300)
    }

    @Test func countersWrapAsOnTheWire() {
        var credit = VsockCredit(bufferAllocation: 1000)
        credit.update(peerBufferAllocation: 500, peerForwardCount: UInt32.max - 99)
        credit.sent(UInt32.max - 99)  // tx_cnt = 2^32 - 100, all consumed
        #expect(credit.peerFree == 500)
        credit.sent(300)  // tx_cnt wraps to 200
        #expect(credit.transmitCount == 200)
        #expect(credit.peerFree == 200)
        credit.update(peerBufferAllocation: 500, peerForwardCount: 150)  // fwd_cnt wrapped too
        #expect(credit.peerFree == 450)
    }

    @Test func theGuestGetsNoMoreRoomThanTheDevicesBuffer() {
        var credit = VsockCredit(bufferAllocation: 100)
        #expect(credit.accepts(100) && !credit.accepts(101))
        credit.received(60)
        #expect(credit.pending == 60 && credit.accepts(40) && !credit.accepts(41))
        credit.forwarded(50)
        #expect(credit.pending == 10 && credit.accepts(90) && !credit.accepts(91))
        #expect(!credit.accepts(UInt32.max), "no overflow in the check")
    }

    @Test func aCreditUpdateIsDueOnlyWhenTheGuestMayBeWaiting() {
        var credit = VsockCredit(bufferAllocation: 1000)
        credit.received(950)
        #expect(!credit.creditUpdateDue(threshold: 100), "nothing was freed")
        credit.forwarded(950)
        #expect(credit.creditUpdateDue(threshold: 100), "the guest knows of 50 bytes free, 1000 are")
        credit.advertised()
        #expect(!credit.creditUpdateDue(threshold: 100))
        credit.received(10)
        credit.forwarded(10)
        #expect(!credit.creditUpdateDue(threshold: 100), "the guest knows of 990 bytes free: no need")
    }
}
