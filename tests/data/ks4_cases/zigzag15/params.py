n_channels_dat = 32
offset = 0
sample_rate = 30000
dtype = 'int16'
hp_filtered = False
dat_path = ['/work/ks4_scratch/zigzag15/recording.bin']
