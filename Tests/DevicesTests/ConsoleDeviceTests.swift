import Devices
import Foundation
import GuestMemory
import HostSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// virtio-console moves every byte, in order, in both directions, whatever its peers do: output
/// to a slow reader waits in the ring (never dropped, never blocking the notifying thread),
/// output to a reader that went away is discarded and counted (never a hang or a SIGPIPE),
/// input that arrives before the driver posts buffers is kept, and input the device has no room
/// for stays with its writer until it has.
@Suite(.usesKVM) struct ConsoleDeviceTests {
    let receive = VirtioConsole.Queue.receive
    let transmit = VirtioConsole.Queue.transmit

    /// Completes every transmit chain posted so far, and returns nothing: output completions
    /// carry no bytes.
    func drainTransmit(_ driver: VirtioDriver) throws {
        try driver.wait {
            _ = try driver.completions(transmit)
            return driver.inFlight(transmit) == 0
        }
    }

    /// Posts `count` receive buffers of `length` bytes.
    func postReceiveBuffers(_ driver: VirtioDriver, count: Int, length: Int) throws {
        for _ in 0..<count { try driver.post(receive, [(try driver.allocate(length), UInt32(length), true)]) }
    }

    /// Collects received bytes until `count` have arrived, reposting a buffer for each completion.
    func receive(_ count: Int, _ driver: VirtioDriver, repost length: Int = 16) throws -> [UInt8] {
        var received: [UInt8] = []
        try driver.wait {
            for completion in try driver.completions(receive) {
                received += completion.bytes
                try driver.post(receive, [(try driver.allocate(length), UInt32(length), true)])
            }
            return received.count >= count
        }
        return received
    }

    @Test func outputArrivesInOrder() throws {
        let output = try ConsoleOutputBuffer()
        let device = try VirtioConsoleDevice(output: output)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        var expected: [UInt8] = []
        for i in 0..<12 {
            let line = Array("line \(i)\n".utf8)
            expected += line
            try driver.send(line, on: transmit)
        }
        try drainTransmit(driver)
        try driver.wait { output.contents.count == expected.count }
        #expect(output.take() == expected)
        #expect(device.statistics.bytesOutput == UInt64(expected.count))
    }

    @Test func aSlowReaderDelaysOutputButLosesNothing() throws {
        // The reader takes 7 bytes at a time; the device holds 16; the guest writes 20 chains of
        // 10 bytes (more than the device holds) and one of 50 (larger than it holds at all).
        let output = try ConsoleOutputBuffer(capacity: 7)
        let device = try VirtioConsoleDevice(output: output, outputCapacity: 16)
        let driver = try VirtioDriver(backend: device, queueSize: 32)
        try driver.start()
        var expected: [UInt8] = []
        for i in 0..<20 {
            let chunk = (0..<10).map { UInt8(truncatingIfNeeded: i * 10 + $0) }
            expected += chunk
            try driver.send(chunk, on: transmit)
        }
        let big = (0..<50).map { UInt8(200 &+ $0) }
        expected += big
        try driver.send(big, on: transmit)
        // Nothing beyond what the reader and the device hold has been taken.
        try driver.wait { output.contents.count == 7 && device.statistics.outputPending == 16 }
        _ = try driver.completions(transmit)
        #expect(driver.inFlight(transmit) > 0, "the device completed chains it had no room for")
        var received: [UInt8] = []
        try driver.wait {
            received += output.take()
            _ = try driver.completions(transmit)
            return received.count == expected.count
        }
        #expect(received == expected)
        try drainTransmit(driver)
        #expect(device.statistics.outputDiscarded == 0)
    }

    @Test func outputToAClosedReaderIsDiscardedAndCounted() throws {
        let output = try ConsoleOutputBuffer()
        let device = try VirtioConsoleDevice(output: output)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        try driver.send(Array("before".utf8), on: transmit)
        try drainTransmit(driver)
        try driver.wait { output.contents == Array("before".utf8) }
        output.close()
        for _ in 0..<5 { try driver.send(Array("after!".utf8), on: transmit) }
        try drainTransmit(driver)
        try driver.wait { device.statistics.outputDiscarded == 30 }
        #expect(device.statistics.bytesOutput == 6)
    }

    @Test func inputBeforeTheDriverIsReadyIsKept() throws {
        let input = try ConsoleInputBuffer()
        let device = try VirtioConsoleDevice(output: try ConsoleOutputBuffer(), input: input)
        let driver = try VirtioDriver(backend: device)
        input.append("typed early".utf8)
        try driver.wait { device.statistics.inputPending == 11 }
        try driver.start()
        try postReceiveBuffers(driver, count: 4, length: 4)
        let received = try receive(11, driver, repost: 4)
        #expect(received == Array("typed early".utf8))
    }

    @Test func inputTheDeviceHasNoRoomForStaysWithItsWriter() throws {
        let input = try ConsoleInputBuffer()
        let device = try VirtioConsoleDevice(output: nil, input: input, inputCapacity: 8)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        let message = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        input.append(message)
        try driver.wait { device.statistics.inputPending == 8 }
        #expect(input.unread == 92, "the device read input it had no room for")
        try postReceiveBuffers(driver, count: 8, length: 3)
        #expect(try receive(100, driver, repost: 3) == message)
        #expect(input.unread == 0)
    }

    @Test func theEndOfInputStopsReadingButDeliversWhatCame() throws {
        let input = try ConsoleInputBuffer()
        let device = try VirtioConsoleDevice(output: nil, input: input)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        input.append("last words".utf8)
        input.finish()
        try postReceiveBuffers(driver, count: 2, length: 16)
        #expect(try receive(10, driver) == Array("last words".utf8))
        // The loop is not spinning on the ended input (level-triggered, a hung-up pipe or an
        // ended buffer stays ready forever): the source is paused, so the wake-ups stop. One
        // stray wake-up is allowed for readiness epoll collected before the pause; a spinning
        // loop would wake thousands of times in 50 ms.
        let before = driver.loop.wakeups
        Thread.sleep(forTimeInterval: 0.05)
        #expect(driver.loop.wakeups - before <= 1)
    }

    @Test func theSizeIsReportedAndItsChangeInterrupts() throws {
        let device = try VirtioConsoleDevice(output: nil, columns: 132, rows: 43)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        #expect(driver.deviceFeatures & VirtioConsole.Feature.size != 0)
        #expect(driver.deviceFeatures & VirtioConsole.Feature.multiport == 0)
        #expect(driver.readConfig(UInt16.self, at: VirtioConsole.ConfigOffset.columns) == 132)
        #expect(driver.readConfig(UInt16.self, at: VirtioConsole.ConfigOffset.rows) == 43)
        #expect(driver.readConfig(UInt32.self, at: VirtioConsole.ConfigOffset.maxPorts) == 1)
        let generation = driver.readRegister(VirtioMMIORegister.configGeneration)
        device.setSize(columns: 100, rows: 30)
        try driver.wait {
            driver.readRegister(VirtioMMIORegister.interruptStatus) & VirtioInterrupt.configurationChange != 0
        }
        #expect(driver.readRegister(VirtioMMIORegister.configGeneration) == generation &+ 1)
        #expect(driver.readConfig(UInt16.self, at: VirtioConsole.ConfigOffset.columns) == 100)
        #expect(driver.readConfig(UInt16.self, at: VirtioConsole.ConfigOffset.rows) == 30)
    }

    @Test func anEmergencyWriteIsOutput() throws {
        let output = try ConsoleOutputBuffer()
        let device = try VirtioConsoleDevice(output: output)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        for byte in "SOS".utf8 { driver.writeConfig([byte, 0, 0, 0], at: VirtioConsole.ConfigOffset.emergencyWrite) }
        #expect(output.contents == Array("SOS".utf8))
    }

    @Test func aPipeWithASlowReaderGetsEveryByte() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let output = try FileDescriptorConsole(.init(rawValue: fds[1]))
        close(fds[1])  // the endpoint holds its own duplicate
        let device = try VirtioConsoleDevice(output: output, outputCapacity: 4096)
        let driver = try VirtioDriver(backend: device, queueSize: 64)
        try driver.start()
        // 256 KiB: four times a pipe's buffer, so the writes meet a full pipe.
        let chunk = 8192
        var expected: [UInt8] = []
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4000)
        for i in 0..<32 {
            let bytes = (0..<chunk).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ i) }
            expected += bytes
            try driver.send(bytes, on: transmit)
            _ = try driver.completions(transmit)
        }
        try SystemCall.setNonBlocking(.init(rawValue: fds[0]))  // a lost byte fails, not hangs
        try driver.wait {
            _ = try driver.completions(transmit)
            // A slow reader: 4000 bytes at a time, one read per wait.
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 { received += buffer[0..<n] }
            return received.count >= expected.count
        }
        #expect(received.count == expected.count)
        #expect(received == expected)
    }

    @Test func aPipeWhoseReaderWentAwayNeitherKillsNorHangs() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let output = try FileDescriptorConsole(.init(rawValue: fds[1]))
        close(fds[1])
        close(fds[0])  // no reader: a write would raise SIGPIPE
        let device = try VirtioConsoleDevice(output: output)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        for _ in 0..<3 { try driver.send(Array("lost".utf8), on: transmit) }
        try drainTransmit(driver)
        try driver.wait { device.statistics.outputDiscarded == 12 }
    }

    @Test func aSocketCarriesBothDirections() throws {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[1]) }
        let endpoint = try FileDescriptorConsole(.init(rawValue: fds[0]))
        close(fds[0])
        let device = try VirtioConsoleDevice(output: endpoint, input: endpoint)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        try postReceiveBuffers(driver, count: 4, length: 16)
        let hello = Array("hello guest".utf8)
        #expect(write(fds[1], hello, hello.count) == hello.count)
        #expect(try receive(hello.count, driver) == hello)
        try driver.send(Array("hello host".utf8), on: transmit)
        var buffer = [UInt8](repeating: 0, count: 64)
        var got: [UInt8] = []
        try driver.wait {
            let n = recv(fds[1], &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { got += buffer[0..<n] }
            return got.count >= 10
        }
        #expect(got == Array("hello host".utf8))
    }

    /// Saved with output and input in flight — bytes in the device's buffers, a transmit chain
    /// taken in part, more chains waiting in the ring — and restored into a new device and
    /// transport: every byte arrives once, in order.
    @Test func aSnapshotKeepsWhatWasInFlight() throws {
        let slow = try ConsoleOutputBuffer(capacity: 5)
        let input = try ConsoleInputBuffer()
        let before = try VirtioConsoleDevice(output: slow, input: input, outputCapacity: 8)
        let driver = try VirtioDriver(backend: before)
        try driver.start()
        input.append("queued input".utf8)  // no receive buffer posted yet: it waits in the device
        for chunk in ["0123456789", "abcdefghij", "KLMNOPQRST"] { try driver.send(Array(chunk.utf8), on: transmit) }
        try driver.wait {
            slow.contents.count == 5 && before.statistics.outputPending == 8 && before.statistics.inputPending == 12
        }
        driver.stopService()
        let transportState = driver.transport.saveState()
        let saved = before.saveState()
        #expect(saved.pendingOutput == Array("56789abc".utf8))
        #expect(saved.partialTransmit?.offset == 3)
        #expect(saved.pendingInput == Array("queued input".utf8))
        // The state survives its encoding.
        let decoded = try JSONDecoder().decode(VirtioConsoleState.self, from: try JSONEncoder().encode(saved))
        #expect(decoded == saved)

        let output = try ConsoleOutputBuffer()
        let after = try VirtioConsoleDevice(output: output, input: try ConsoleInputBuffer(), outputCapacity: 8)
        try driver.replaceTransport(backend: after) { transport in
            try transport.restoreState(transportState)
            try after.restoreState(decoded)
        }
        try driver.wait { output.contents.count == 25 }
        #expect(slow.take() + output.take() == Array("0123456789abcdefghijKLMNOPQRST".utf8))
        try drainTransmit(driver)
        try postReceiveBuffers(driver, count: 2, length: 16)
        #expect(try receive(12, driver) == Array("queued input".utf8))
    }

    @Test func aStateLargerThanTheDeviceIsRefused() throws {
        let device = try VirtioConsoleDevice(output: nil, outputCapacity: 4, inputCapacity: 4)
        let state = VirtioConsoleState(
            columns: 80, rows: 25, pendingOutput: [1, 2, 3, 4, 5], pendingInput: [], partialTransmit: nil)
        #expect(throws: VirtioConsoleStateError.outputTooLarge(5, capacity: 4)) { try device.restoreState(state) }
        var input = state
        input.pendingOutput = []
        input.pendingInput = [1, 2, 3, 4, 5, 6]
        #expect(throws: VirtioConsoleStateError.inputTooLarge(6, capacity: 4)) { try device.restoreState(input) }
        #expect(device.saveState().pendingOutput.isEmpty)
    }

    @Test func outputWaitingAtAResetIsStillWritten() throws {
        let output = try ConsoleOutputBuffer(capacity: 4)
        let device = try VirtioConsoleDevice(output: output, outputCapacity: 8)
        let driver = try VirtioDriver(backend: device)
        try driver.start()
        try driver.send(Array("0123456789AB".utf8), on: transmit)
        try driver.wait { output.contents.count == 4 && device.statistics.outputPending == 8 }
        driver.writeRegister(VirtioMMIORegister.status, 0)  // reset: the ring is gone
        var received: [UInt8] = []
        try driver.wait {
            received += output.take()
            return received.count == 12
        }
        #expect(received == Array("0123456789AB".utf8))
    }
}
