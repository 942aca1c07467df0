import DeviceModel
import HostSupport

// README snippet: DeviceModel
func readmeSnippetDeviceModel() throws {
    let console = SerialCapture()
    let ports = PortIOBus()
    try ports.insert(Serial16550(output: console.sink), base: 0x3f8, size: 8)  // COM1
    if let hit = ports.lookup(0x3f8) {  // what a vCPU run loop does for an OUT
        let byte = [UInt8(ascii: "A")]
        byte.withUnsafeBytes { hit.device.write(port: 0x3f8, offset: UInt16(hit.offset), from: $0) }
    }
    let irq: any InterruptSignal = try EventFD()
    irq.trigger()
    print(console.text, irq.eventFD != nil)  // A true: it can become a KVM irqfd
}
