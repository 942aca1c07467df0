// A VHD image is a BlockStorage block device: its data path (`read`, `write`, `flush`,
// `discard`) is the `BlockDevice` protocol's, and its I/O seam is `ImageIO`. Importing VHD
// therefore brings BlockStorage with it, as VCPUScheduler brings Scheduling.
@_exported import BlockStorage
