dat_path = r'/work/main/benchmarks/_data/validation/si/other_units_shift_ci/phy/recording.dat'
n_channels_dat = 64
dtype = 'float32'
offset = 0
sample_rate = 30000.0
hp_filtered = False